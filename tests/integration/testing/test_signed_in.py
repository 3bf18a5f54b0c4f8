"""``codex_login.testing.signed_in()``: a signed-in CodexAuth with its fake issuer and
backend in one call, for scripts outside pytest."""

from __future__ import annotations

import json
import stat
import tomllib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from codex_login.testing import SettableClock, signed_in


def call(url: str, token: str, account: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "ChatGPT-Account-ID": account or ""}
    return httpx.post(f"{url}/responses", json={"input": "hi"}, headers=headers, timeout=30)


def test_the_session_is_signed_in_and_its_token_passes_the_backend() -> None:
    with signed_in() as session:
        status = session.auth.status()
        assert status is not None
        assert status.issuer == session.issuer.url
        answer = call(session.backend.url, session.auth.get_token(), status.account_id)
        assert answer.json()["output"][0]["content"][0]["text"] == session.backend.text
        assert session.issuer.requests == []  # signed in without a round trip


def test_a_temporary_home_is_private_and_removed_at_the_end() -> None:
    with signed_in() as session:
        home = session.home
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert (home / "auth.json").is_file()
    assert not home.exists()


def test_the_homes_config_sends_the_model_api_to_the_backend(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with signed_in(home) as session:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
        assert config == {"openai_base_url": session.backend.url}
        assert session.environment() == {
            "CODEX_HOME": str(home),
            "CODEX_LOGIN_ISSUER": session.issuer.url,
            "CODEX_LOGIN_CLIENT_ID": "app_EMoamEEZ73f0CkXaXp7hrann",
            "OPENAI_BASE_URL": session.backend.url,
        }
        assert session.exports().splitlines()[0] == f"export CODEX_HOME={home}"
    assert (home / "auth.json").is_file()  # a home the caller named is kept


@pytest.mark.parametrize("existing", ["auth.json", "config.toml"])
def test_a_home_that_holds_a_login_or_a_config_is_refused_untouched(
    tmp_path: Path, existing: str
) -> None:
    (tmp_path / existing).write_text('{"mine": true}', encoding="utf-8")
    fresh_home_only = pytest.raises(FileExistsError, match=f"{existing} exists: .*fresh CODEX_HOME")
    with fresh_home_only, signed_in(tmp_path):
        pass
    assert json.loads((tmp_path / existing).read_text(encoding="utf-8")) == {"mine": True}


def test_with_a_clock_the_token_expires_for_both_and_the_next_one_is_refreshed() -> None:
    clock = SettableClock()
    with signed_in(clock=clock, access_ttl=timedelta(minutes=10)) as session:
        status = session.auth.status()
        assert status is not None
        old = session.auth.get_token()
        clock.advance(timedelta(minutes=10))
        assert call(session.backend.url, old, status.account_id).status_code == 401
        new = session.auth.get_token()  # due: refreshed at the fake issuer
        assert new != old
        assert len(session.issuer.posts("refresh_token")) == 1
        assert call(session.backend.url, new, status.account_id).status_code == 200
