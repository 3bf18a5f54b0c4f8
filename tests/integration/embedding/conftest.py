"""Fixtures the twins' loop and seam tests share (a module's own fixture of the same
name still wins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fake_issuer import FakeIssuer, running_issuer


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer()) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty private CODEX_HOME."""
    path = tmp_path / "codex"
    path.mkdir(mode=0o700)
    return path
