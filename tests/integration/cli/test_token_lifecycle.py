"""Refresh, revoke and `codex-login token` over real HTTP, files and processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint
from codex_login.domain.errors import TransientTokenError
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import CLI, clean_env, run_in_process
from support.fake_issuer import Failure, FakeIssuer
from support.logins import issuer_env, stored, write_login
from support.tokens import make_jwt

# -- codex-login token -------------------------------------------------------------------


def test_token_prints_the_stored_access_token_when_fresh(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
    result = run_in_process("token", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 0
    assert result.stdout.strip() == stored(tmp_path)["tokens"]["access_token"]
    assert issuer.posts("refresh_token") == []


def test_token_refreshes_first_when_due(tmp_path: Path, issuer: FakeIssuer) -> None:
    first = issuer.new_refresh_token()
    write_login(tmp_path, first, expires_in=timedelta(minutes=2))
    result = run_in_process("token", "--json", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 0, result.stderr
    document = stored(tmp_path)
    printed = json.loads(result.stdout)
    assert printed["token"] == document["tokens"]["access_token"]
    assert printed["mode"] == "chatgpt"
    assert printed["account_id"] == "acc-123"
    assert datetime.fromisoformat(printed["expires_at"]) > datetime.now(UTC) + timedelta(minutes=50)
    assert document["tokens"]["refresh_token"] != first
    assert document["note"] == "kept"
    assert len(document["last_refresh"]) == len("2026-11-28T10:45:43.654531Z")
    [request] = issuer.posts("refresh_token")
    assert request.content_type == "application/json"
    assert request.json == {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "grant_type": "refresh_token",
        "refresh_token": first,
        "scope": "openid profile email",
    }


def test_the_standard_profile_refreshes_with_a_form(tmp_path: Path, issuer: FakeIssuer) -> None:
    first = issuer.new_refresh_token()
    write_login(tmp_path, first, expires_in=timedelta(minutes=2))
    result = run_in_process("token", env=issuer_env(tmp_path, issuer, profile="standard"))
    assert result.returncode == 0, result.stderr
    [request] = issuer.posts("refresh_token")
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form["refresh_token"] == first
    assert request.form["scope"] == "openid profile email"


def test_the_refresh_url_override_is_honoured(tmp_path: Path, issuer: FakeIssuer) -> None:
    # An override applies on the login's issuer's origin only (the Codex CLI's own use).
    token = issuer.new_refresh_token()
    write_login(tmp_path, token, expires_in=timedelta(minutes=2), issuer=issuer.url)
    env = clean_env(tmp_path, CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{issuer.url}/oauth/token")
    result = run_in_process("token", env=env)
    assert result.returncode == 0, result.stderr
    assert len(issuer.posts("refresh_token")) == 1
    assert issuer.requests_to("/.well-known/openid-configuration") == []  # the override, used


def test_token_for_an_api_key(tmp_path: Path) -> None:
    run_in_process("login", "--with-api-key", home=tmp_path, stdin="sk-test-123456789")
    assert run_in_process("token", home=tmp_path).stdout == "sk-test-123456789\n"


def test_token_when_not_logged_in(tmp_path: Path) -> None:
    result = run_in_process("token", home=tmp_path)
    assert (result.returncode, result.stdout) == (4, "")  # 4: a person must log in
    # It names where it looked, in order (issue 21): the override, the store, the env key.
    assert result.stderr == (
        f"Error: not logged in: looked for CODEX_API_KEY, {tmp_path / 'auth.json'}, "
        "OPENAI_API_KEY; run `codex-login login`\n"
    )


def failed_refresh(home: Path, issuer: FakeIssuer, failure: Failure) -> str:
    """Run `token` on a login due for refresh against a failing issuer; its one-line error.

    Whatever the failure, the command fails (4 when the session ended, else 1) and
    auth.json stays byte for byte.
    """
    before = write_login(home, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    issuer.refresh_failure = failure
    result = run_in_process("token", env=issuer_env(home, issuer))
    ended = "run `codex-login login` to sign in again" in result.stderr
    assert result.returncode == (4 if ended else 1)
    assert len(result.stderr.strip().splitlines()) == 1
    assert (home / "auth.json").read_bytes() == before
    return result.stderr.strip()


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (Failure(401, '{"error": "unauthorized"}'), "rejected the refresh token (HTTP 401"),
        (
            Failure(400, '{"error": {"code": "refresh_token_reused", "message": "used"}}'),
            "already used, probably by another program",
        ),
        (Failure(401, '{"code": "refresh_token_expired"}'), "session has expired"),
        (
            Failure(400, '{"error": "refresh_token_invalidated"}'),
            "revoked (signed out elsewhere",
        ),
        (Failure(400, '{"error": "invalid_grant", "error_description": "x"}'), "no longer accepts"),
    ],
)
def test_a_session_that_ended_says_to_log_in_again_and_keeps_the_file(
    tmp_path: Path, issuer: FakeIssuer, failure: Failure, message: str
) -> None:
    error = failed_refresh(tmp_path, issuer, failure)
    assert message in error
    assert error.endswith("run `codex-login login` to sign in again")


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (Failure(503, "<html>busy</html>", "text/html"), "HTTP 503"),
        (Failure(200, "not json", "text/plain"), "not a JSON object"),
        (Failure(200, "{}"), "has no access_token (missing, empty or not a string)"),
        (Failure(200, '{"access_token": 5}'), "has no access_token (missing, empty or not"),
        (
            Failure(200, json.dumps({"access_token": make_jwt({"sub": "x"})})),
            "without a usable exp",
        ),
        (
            Failure(200, json.dumps({"access_token": "opaque", "id_token": "not-a-jwt"})),
            "id_token is not a JWT",
        ),
        (Failure(200, json.dumps({"access_token": "x" * (2 << 20)})), "more than 1024 KiB"),
    ],
)
def test_bad_answers_from_the_issuer_leave_the_file_unchanged(
    tmp_path: Path, issuer: FakeIssuer, failure: Failure, message: str
) -> None:
    assert message in failed_refresh(tmp_path, issuer, failure)


# -- logout ------------------------------------------------------------------------


def test_logout_revokes_the_refresh_token(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.new_refresh_token()
    # The override applies on the login's issuer's origin only (the Codex CLI's own use).
    write_login(tmp_path, token, expires_in=timedelta(hours=1), issuer=issuer.url)
    env = {
        **issuer_env(tmp_path, issuer),
        "CODEX_REVOKE_TOKEN_URL_OVERRIDE": f"{issuer.url}/oauth/revoke",
    }
    result = run_in_process("logout", env=env)
    assert (result.returncode, result.stderr) == (0, "Successfully logged out\n")
    [revoke] = [r for r in issuer.requests if r.path == "/oauth/revoke"]
    assert revoke.json == {
        "token": token,
        "token_type_hint": "refresh_token",
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
    }
    assert not issuer.refresh_token_works(token)
    assert not (tmp_path / "auth.json").exists()


def test_logout_local_does_not_revoke(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.new_refresh_token()
    write_login(tmp_path, token, expires_in=timedelta(hours=1))
    result = run_in_process("logout", "--local", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 0
    assert issuer.refresh_token_works(token)
    assert not (tmp_path / "auth.json").exists()


def test_a_failed_revoke_never_blocks_logout(tmp_path: Path) -> None:
    # An issuer that is gone; the override may only point within its origin.
    write_login(tmp_path, "rt-1", expires_in=timedelta(hours=1), issuer="http://127.0.0.1:9")
    env = clean_env(tmp_path, CODEX_REVOKE_TOKEN_URL_OVERRIDE="http://127.0.0.1:9/oauth/revoke")
    result = run_in_process("logout", env=env)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Warning: could not revoke the login at the issuer: revoking failed")
    assert lines[1] == "Successfully logged out"
    assert not (tmp_path / "auth.json").exists()


def test_logout_deletes_a_malformed_file_without_revoking(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    (tmp_path / "auth.json").write_text("{broken")
    result = run_in_process("logout", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 0
    # One more line says that nothing could be revoked (issue 21).
    done, note = result.stderr.splitlines()
    assert done == "Successfully logged out"
    assert note.startswith("  nothing was revoked at the issuer: ")
    assert issuer.requests == []


def browser_login(home: Path, issuer: FakeIssuer) -> None:
    child = subprocess.Popen(
        [str(CLI), "login", "--no-browser", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=issuer_env(home, issuer, profile="standard"),
        text=True,
    )
    assert child.stderr is not None
    url = next(line.strip() for line in child.stderr if line.startswith(issuer.url))
    with urllib.request.urlopen(url, timeout=30) as page:
        page.read()
    child.communicate(timeout=30)
    assert child.returncode == 0


def test_a_new_login_revokes_the_refresh_token_it_replaces(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    old = issuer.new_refresh_token()
    write_login(tmp_path, old, expires_in=timedelta(hours=1), issuer=issuer.url)
    browser_login(tmp_path, issuer)
    assert not issuer.refresh_token_works(old)
    assert issuer.refresh_token_works(stored(tmp_path)["tokens"]["refresh_token"])


def test_a_login_at_another_issuer_never_sends_it_the_old_refresh_token(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    write_login(tmp_path, "rt-of-auth-openai-com", expires_in=timedelta(hours=1),
                issuer="https://auth.openai.com")  # fmt: skip
    browser_login(tmp_path, issuer)
    sent = [r.json or r.form for r in issuer.requests]
    assert all("rt-of-auth-openai-com" not in json.dumps(fields) for fields in sent)
    assert [r.path for r in issuer.requests if r.path == "/oauth/revoke"] == []


def test_an_issuer_slower_than_the_timeout_leaves_the_file_unchanged(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    issuer.refresh_failure = Failure(200, "{}", delay=5)
    endpoint = HttpTokenEndpoint(timeout=0.5)
    service = bootstrap(
        store=FileCredentialStore(tmp_path), endpoint=endpoint, issuer=issuer.url, environ={}
    )
    with pytest.raises(TransientTokenError, match=r"did not answer within 0\.5 s"):
        asyncio.run(service.get_token())
    assert (tmp_path / "auth.json").read_bytes() == before


def test_a_malformed_proxy_variable_is_a_one_line_error(tmp_path: Path, issuer: FakeIssuer) -> None:
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    env = {**issuer_env(tmp_path, issuer), "HTTP_PROXY": "http://[bad", "NO_PROXY": ""}
    result = run_in_process("token", env=env)
    assert result.returncode == 1
    assert "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "auth.json").read_bytes() == before


def test_a_redirect_from_the_token_endpoint_is_not_followed(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    elsewhere = {"Location": f"{issuer.url}/elsewhere"}
    issuer.refresh_failure = Failure(307, "", "text/plain", headers=elsewhere)
    result = run_in_process("token", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 1
    assert "HTTP 307" in result.stderr
    assert [r.path for r in issuer.requests] == ["/oauth/token"]
    assert (tmp_path / "auth.json").read_bytes() == before


def test_the_client_id_comes_from_the_environment_for_every_command(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    env = {**issuer_env(tmp_path, issuer), "CODEX_LOGIN_CLIENT_ID": "app_custom"}
    assert run_in_process("token", env=env).returncode == 0
    assert issuer.posts("refresh_token")[0].json["client_id"] == "app_custom"
