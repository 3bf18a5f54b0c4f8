"""Many processes, one expired token, single-use refresh tokens: exactly one refresh."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login.testing.issuer import FakeIssuer
from support.cli import run_all
from support.logins import issuer_env, stored, write_login

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("profile", ["openai", "standard"])
def test_sixteen_processes_send_one_refresh_and_all_succeed(
    tmp_path: Path, issuer: FakeIssuer, profile: str
) -> None:
    first = issuer.new_refresh_token()
    write_login(tmp_path, first, expires_in=timedelta(minutes=-1))
    results = run_all("token", count=16, env=issuer_env(tmp_path, issuer, profile))
    assert [r.stderr for r in results if r.returncode != 0] == []
    document = stored(tmp_path)
    assert {r.stdout.strip() for r in results} == {document["tokens"]["access_token"]}
    assert len(issuer.posts("refresh_token")) == 1
    # The session survived: the stored refresh token is the live one.
    assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
    assert not issuer.refresh_token_works(first)
    assert json.loads((tmp_path / "auth.json").read_bytes())["note"] == "kept"
