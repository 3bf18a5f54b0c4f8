"""The testing kit we ship (codex_login.testing) does what its docstrings promise."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import codex_login.testing
from codex_login import AsyncCodexAuth, CodexAuth, TransientTokenError
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.modes import AuthMode
from codex_login.stores import FileCredentialStore
from codex_login.testing.clock import START, SettableClock
from codex_login.testing.issuer import Failure, FakeIssuer, running_issuer

METADATA = "/.well-known/openid-configuration"


def stored(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    return document


def post_json(url: str, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(fields).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


# -- the package and the plugin --------------------------------------------------------


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, codex_login.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'authlib') "
        "or m.startswith(('codex_login.entrypoints', 'codex_login.adapters', "
        "'codex_login.application', 'codex_login.testing.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['codex_login.testing.plugin']"


def test_every_name_the_kit_lists_is_importable() -> None:
    for name in codex_login.testing.__all__:
        assert getattr(codex_login.testing, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        codex_login.testing.Nope  # noqa: B018


# -- fixtures -------------------------------------------------------------------------------


def test_codex_home_is_an_empty_private_directory(codex_home: Path) -> None:
    assert stat.S_IMODE(codex_home.stat().st_mode) == 0o700
    assert list(codex_home.iterdir()) == []


def test_codex_auth_is_logged_in_at_the_fake_issuer(
    codex_auth: CodexAuth, codex_fake_issuer: FakeIssuer, codex_home: Path
) -> None:
    status = codex_auth.status()
    assert status is not None
    assert status.mode is AuthMode.CHATGPT
    tokens = stored(codex_home)["tokens"]
    assert codex_auth.get_token() == tokens["access_token"]
    assert tokens["oauth_provenance"]["issuer"] == codex_fake_issuer.url
    assert codex_fake_issuer.refresh_token_works(tokens["refresh_token"])
    assert codex_fake_issuer.requests == []  # logged in without a round trip


def test_codex_auth_refreshes_at_the_fake_issuer(
    codex_auth: CodexAuth, codex_fake_issuer: FakeIssuer, codex_home: Path
) -> None:
    before = stored(codex_home)["tokens"]
    refreshed = codex_auth.refresh()
    after = stored(codex_home)["tokens"]
    assert [r.fields["refresh_token"] for r in codex_fake_issuer.posts("refresh_token")] == [
        before["refresh_token"]
    ]
    assert refreshed.token == after["access_token"] != before["access_token"]
    assert codex_fake_issuer.refresh_token_works(after["refresh_token"])
    assert not codex_fake_issuer.refresh_token_works(before["refresh_token"])


def test_codex_auth_logout_revokes_the_grant(
    codex_auth: CodexAuth, codex_fake_issuer: FakeIssuer, codex_home: Path
) -> None:
    refresh_token = stored(codex_home)["tokens"]["refresh_token"]
    codex_auth.logout()
    assert len(codex_fake_issuer.requests_to("/oauth/revoke")) == 1
    assert not codex_fake_issuer.refresh_token_works(refresh_token)
    assert not (codex_home / "auth.json").exists()


def test_codex_async_auth_is_the_same_login(
    codex_async_auth: AsyncCodexAuth, codex_home: Path
) -> None:
    token = asyncio.run(codex_async_auth.get_token())
    assert token == stored(codex_home)["tokens"]["access_token"]


def test_the_settable_clock_moves_only_when_told(codex_settable_clock: SettableClock) -> None:
    assert codex_settable_clock.now() == codex_settable_clock.now() == START
    assert codex_settable_clock.advance(timedelta(minutes=5)) == START + timedelta(minutes=5)
    moment = datetime(2030, 1, 1, 12, tzinfo=UTC)
    codex_settable_clock.set(moment)
    assert codex_settable_clock.now() == moment
    with pytest.raises(ValueError, match="timezone-aware"):
        codex_settable_clock.set(datetime(2030, 1, 1))  # naive


# -- the fake issuer ------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["openai", "standard"])
def test_approve_is_a_whole_browser_login(
    codex_home: Path, codex_fake_issuer: FakeIssuer, profile: str
) -> None:
    issuer = codex_fake_issuer
    with CodexAuth(
        store=FileCredentialStore(codex_home),
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,  # the fake stands in for OpenAI's issuer
        environ={"CODEX_LOGIN_ISSUER_PROFILE": profile},
    ) as auth:
        auth.login_in_browser(
            announce=issuer.approve_in_background, open_browser=False, port=0, timeout=60
        )
        issuer.join_browsers()
        assert issuer.browser_errors == []
        [visit] = issuer.visits
        assert visit.status == 200
        assert urllib.parse.urlsplit(visit.url).path == "/success"
        [exchange] = issuer.posts("authorization_code")
        assert exchange.fields["code_verifier"]
        assert auth.get_token() == stored(codex_home)["tokens"]["access_token"]
    discovered = issuer.requests_to(METADATA) != []
    assert discovered is (profile == "standard")


def test_the_issuer_runs_without_pytest_and_stops() -> None:
    with running_issuer(FakeIssuer()) as issuer:
        with urllib.request.urlopen(issuer.url + METADATA, timeout=30) as answer:
            metadata = json.loads(answer.read())
        assert metadata["issuer"] == issuer.url
        assert metadata["token_endpoint"] == f"{issuer.url}/oauth/token"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(issuer.url + METADATA, timeout=30)


def test_the_issuer_stops_without_waiting_out_a_delayed_answer() -> None:
    """A ``Failure`` delayed past the client's timeout does not hold up the stop."""
    with running_issuer(FakeIssuer()) as issuer:
        issuer.refresh_failure = Failure(200, "{}", delay=30)
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": "x"})
        with pytest.raises(TimeoutError):
            urllib.request.urlopen(f"{issuer.url}/oauth/token", body.encode(), timeout=0.3)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5  # not the 30 s the handler would still take


def test_metadata_overrides_replace_and_remove_keys(codex_fake_issuer: FakeIssuer) -> None:
    codex_fake_issuer.metadata = {"device_authorization_endpoint": None, "extra": "yes"}
    with urllib.request.urlopen(codex_fake_issuer.url + METADATA, timeout=30) as answer:
        metadata = json.loads(answer.read())
    assert "device_authorization_endpoint" not in metadata
    assert metadata["extra"] == "yes"


def test_reusing_a_refresh_token_revokes_the_whole_grant(codex_fake_issuer: FakeIssuer) -> None:
    token_url = f"{codex_fake_issuer.url}/oauth/token"
    first = codex_fake_issuer.new_refresh_token()
    status, answer = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": first})
    assert status == 200
    second = answer["refresh_token"]
    assert second != first
    status, answer = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": first})
    assert (status, answer["error"]) == (401, "refresh_token_reused")
    assert not codex_fake_issuer.refresh_token_works(second)


def test_a_failure_with_times_fails_that_many_requests_then_recovers(
    codex_auth: CodexAuth, codex_fake_issuer: FakeIssuer
) -> None:
    codex_fake_issuer.failures["refresh"] = Failure(503, times=1)
    with pytest.raises(TransientTokenError):
        codex_auth.refresh()
    assert codex_fake_issuer.failures == {}
    assert codex_auth.refresh().token
    assert len(codex_fake_issuer.posts("refresh_token")) == 2


def test_a_declined_authorization_goes_back_with_the_error(
    codex_fake_issuer: FakeIssuer,
) -> None:
    codex_fake_issuer.authorize_error = "access_denied"
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "redirect_uri": f"{codex_fake_issuer.url}/nowhere",
            "state": "s-1",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        }
    )
    visit = codex_fake_issuer.approve(f"{codex_fake_issuer.url}/oauth/authorize?{query}")
    assert visit.status == 404  # the redirect target does not exist here
    sent_back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(visit.url).query))
    assert sent_back == {
        "state": "s-1",
        "error": "access_denied",
        "error_description": "the user declined",
        "iss": codex_fake_issuer.url,
    }


ASYNC_AUTH_USERS = """
import asyncio
import threading

pytest_plugins = ["codex_login.testing.plugin"]


def seams():
    return [t for t in threading.enumerate() if t.name == "codex-login"]


def test_refreshes(codex_async_auth):
    asyncio.run(codex_async_auth.refresh())
    assert len(seams()) == 1


def test_after_it():
    assert seams() == []
"""


def test_codex_async_auth_stops_its_thread_when_the_test_ends(tmp_path: Path) -> None:
    """It was returned, never closed: each test that used it left a thread running."""
    (tmp_path / "test_user.py").write_text(ASYNC_AUTH_USERS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
