"""A login's tokens go back only to the issuer that issued them, whatever the environment says,
and an interrupted command reports what it really left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import CLI, clean_env, run_in_process, start_browser_login
from support.fake_issuer import FakeIssuer
from support.logins import write_login
from support.tokens import access_token
from support.waiting import wait_until


def log_in(home: Path, issuer: FakeIssuer) -> subprocess.Popen[str]:
    """Start `login --issuer` and play the browser in a thread; return the running login."""
    # The fake issuer stands in for OpenAI's; any issuer but the default needs its client id.
    env = clean_env(home, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID)
    child, url = start_browser_login(["--issuer", issuer.url], env)

    def browse() -> None:
        try:
            with urllib.request.urlopen(url, timeout=60) as page:
                page.read()
        except OSError:
            pass  # the login may be stopped while the browser waits

    threading.Thread(target=browse, daemon=True).start()
    return child


def logged_in(home: Path, issuer: FakeIssuer) -> None:
    child = log_in(home, issuer)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr


def expire(home: Path) -> None:
    """Make the stored access token one that expired a minute ago."""
    path = home / "auth.json"
    document = json.loads(path.read_bytes())
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(minutes=1))
    path.write_text(json.dumps(document, indent=2))


def test_a_login_is_bound_to_its_issuer_in_the_codex_cli_layout(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    child = log_in(tmp_path, issuer)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    tokens = json.loads((tmp_path / "auth.json").read_bytes())["tokens"]
    assert list(tokens) == [
        "id_token",
        "access_token",
        "refresh_token",
        "oauth_provenance",
        "account_id",
    ]
    assert tokens["oauth_provenance"] == {
        "issuer": issuer.url,
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
    }
    status = json.loads(run_in_process("status", "--json", home=tmp_path).stdout)
    assert (status["issuer"], status["client_id"]) == (issuer.url, "app_EMoamEEZ73f0CkXaXp7hrann")


def test_refresh_and_revoke_go_to_the_login_issuer_without_any_setting(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer)
    expire(tmp_path)
    token = run_in_process("token", home=tmp_path)  # no CODEX_LOGIN_ISSUER in this environment
    assert token.returncode == 0, token.stderr
    assert len(issuer.posts("refresh_token")) == 1
    logout = run_in_process("logout", home=tmp_path)
    assert logout.returncode == 0, logout.stderr
    assert "Warning" not in logout.stderr
    assert [r.path for r in issuer.requests if r.path == "/oauth/revoke"] == ["/oauth/revoke"]


def test_an_explicit_issuer_that_is_not_the_login_issuer_sends_nothing(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer)
    expire(tmp_path)
    before = (tmp_path / "auth.json").read_bytes()
    sent = len(issuer.requests)
    env = clean_env(tmp_path, CODEX_LOGIN_ISSUER="https://idp.example")
    for command in ("token", "logout"):
        result = run_in_process(command, env=env)
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert issuer.url in line
        assert "https://idp.example" in line
    assert len(issuer.requests) == sent
    assert (tmp_path / "auth.json").read_bytes() == before


def test_a_conflicting_issuer_is_refused_at_once_not_when_a_refresh_falls_due(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """A fresh token was handed out under a conflicting CODEX_LOGIN_ISSUER until a refresh fell
    due, then refused with a remedy naming --issuer, which `token` does not have (issue 21)."""
    logged_in(tmp_path, issuer)  # fresh tokens: no refresh is due
    before = (tmp_path / "auth.json").read_bytes()
    sent = len(issuer.requests)
    env = clean_env(tmp_path, CODEX_LOGIN_ISSUER="https://idp.example")
    for command in ("token", "status"):
        result = run_in_process(command, env=env)
        assert (result.returncode, result.stdout) == (1, ""), command
        [line] = result.stderr.splitlines()
        assert f"issued by {issuer.url}" in line
        assert "the configured issuer is https://idp.example" in line
        assert "unset CODEX_LOGIN_ISSUER" in line
        assert "--issuer https://idp.example` to replace it" in line
        assert "(or --issuer)" not in line
    assert len(issuer.requests) == sent
    assert (tmp_path / "auth.json").read_bytes() == before


def test_ctrl_c_during_a_refresh_that_then_commits_says_the_tokens_were_saved(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer)
    expire(tmp_path)
    issuer.gates["refresh"] = gate = threading.Event()
    child = subprocess.Popen(
        [str(CLI), "token"],
        env=clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: len(issuer.posts("refresh_token")) == 1)
    child.send_signal(signal.SIGINT)
    gate.set()
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert stdout == ""
    assert "the refreshed tokens were saved" in stderr
    assert "Traceback" not in stderr
    stored = json.loads((tmp_path / "auth.json").read_bytes())["tokens"]["refresh_token"]
    assert issuer.refresh_token_works(stored)


def test_ctrl_c_after_the_login_was_saved_reports_the_login_as_done(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer)
    # A second login replaces the first and revokes its refresh token after the commit.
    issuer.gates["revoke"] = gate = threading.Event()
    child = log_in(tmp_path, issuer)
    wait_until(lambda: any(r.path == "/oauth/revoke" for r in issuer.requests))
    child.send_signal(signal.SIGINT)
    gate.set()
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert "The sign-in had been saved" in stderr
    assert stderr.strip().endswith("Successfully logged in")
    stored = json.loads((tmp_path / "auth.json").read_bytes())["tokens"]["refresh_token"]
    assert issuer.refresh_token_works(stored)


def test_v_shows_the_cause_of_an_error(tmp_path: Path, issuer: FakeIssuer) -> None:
    # A login whose issuer is gone: an override may only move the refresh within the
    # login's issuer's origin, so the dead endpoint is that issuer's own.
    dead_issuer = "http://127.0.0.1:9"  # the discard port: nothing listens there
    write_login(tmp_path, "rt-1", expires_in=timedelta(minutes=-1), issuer=dead_issuer)
    revoke_url = f"{dead_issuer}/oauth/revoke"
    dead = f"{dead_issuer}/oauth/token"
    env = clean_env(
        tmp_path,
        CODEX_REFRESH_TOKEN_URL_OVERRIDE=dead,
        CODEX_REVOKE_TOKEN_URL_OVERRIDE=revoke_url,
    )
    quiet = run_in_process("token", env=env)
    verbose = run_in_process("token", "-v", env=env)
    assert quiet.returncode == verbose.returncode == 1
    assert "caused by" not in quiet.stderr
    causes = [line for line in verbose.stderr.splitlines() if "caused by" in line]
    assert causes
    assert any("ClientConnector" in line or "ConnectionRefused" in line for line in causes)
