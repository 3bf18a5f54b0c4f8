"""Fixtures the broker's access and defence tests share (a module's own fixture of the
same name still wins)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from support.fake_issuer import FakeIssuer
from support.logins import write_login


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    return codex_fake_issuer


@pytest.fixture
def home(tmp_path: Path, issuer: FakeIssuer) -> Path:
    """A private CODEX_HOME with a fresh ChatGPT login bound to the fake issuer."""
    codex_home = tmp_path / "codex"
    codex_home.mkdir(mode=0o700)
    write_login(
        codex_home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url
    )
    return codex_home
