"""Fixtures the twins' loop and seam tests share (a module's own fixture of the same
name still wins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.fake_issuer import FakeIssuer


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's fixture (codex_login.testing.plugin), as our users get it."""
    return codex_fake_issuer


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty private CODEX_HOME."""
    path = tmp_path / "codex"
    path.mkdir(mode=0o700)
    return path
