"""Fixtures the twins' loop and seam tests share (a module's own fixture of the same
name still wins)."""

from __future__ import annotations

import pytest

from support.fake_issuer import FakeIssuer


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's fixture (codex_login.testing.plugin), as our users get it."""
    return codex_fake_issuer
