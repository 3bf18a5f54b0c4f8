"""Two people at a real OpenID provider, one CODEX_HOME: accounts, switch, and the Codex
CLI seeing the active one after each switch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login import CodexAuth
from codex_login.domain.refresh_policy import RefreshPolicy
from interop.peers.codex_peer import AppServer, LoopbackServer, chatgpt_backend_routes
from interop.peers.oidc_issuer import OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import complete_authorization
from support.cli import clean_env, run_cli, start_browser_login

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

# These tests refresh at the issuer seconds after a login, on purpose: the guard that
# answers a forced refresh of tokens just issued with those tokens is off here.
FORCE_AT_ONCE = RefreshPolicy(min_token_age_for_forced_refresh=timedelta(0))

USERS = {
    "alice": {"email": "alice@example.com", "chatgpt_account_id": "ws-alice"},
    "bob": {"email": "bob@example.com", "chatgpt_account_id": "ws-team"},
}


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer(users=USERS) as running:
        yield running


def log_in(home: Path, issuer: OidcIssuer, who: str) -> None:
    child, url = start_browser_login(
        [],
        clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id),
    )
    complete_authorization(url, login=who)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert f"Logged in as {who}@example.com" in stderr


def accounts(home: Path) -> list[tuple[Any, ...]]:
    result = run_cli("accounts", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return [
        (a["name"], a["workspace_id"], a["active"]) for a in json.loads(result.stdout)["accounts"]
    ]


def seen_by_codex(codex: Path, home: Path) -> tuple[str, str]:
    """The account the Codex CLI reads from this CODEX_HOME: (email, workspace id)."""
    routes = chatgpt_backend_routes()
    listed = [  # both workspaces, as the ChatGPT backend lists them
        {
            "id": claims["chatgpt_account_id"],
            "workspace_backend_origin": "https://chatgpt.invalid",
            "account_routing_override": "NO_CONSTRAINT",
        }
        for claims in USERS.values()
    ]
    routes["GET /api/codex/accounts/check"] = (200, {"accounts": listed})
    with LoopbackServer(routes) as backend, AppServer(codex, home, base_url=backend.url) as app:
        app.initialize()
        result = app.request("account/read", {"refreshToken": False})
    return result["account"]["email"], result["workspaceRouting"]["chatgptAccountId"]


def test_two_people_switch_and_the_codex_cli_follows(
    tmp_path: Path, issuer: OidcIssuer, codex: Path
) -> None:
    home = tmp_path / "codex"
    log_in(home, issuer, "alice")
    log_in(home, issuer, "bob")
    assert accounts(home) == [("alice", "ws-alice", False), ("bob", "ws-team", True)]
    assert seen_by_codex(codex, home) == ("bob@example.com", "ws-team")

    environ = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer)
    with CodexAuth(codex_home=home, environ=environ, policy=FORCE_AT_ONCE) as auth:
        rotated = auth.refresh()  # a refresh at the real issuer rotates bob's refresh token
    bob_refresh = json.loads((home / "auth.json").read_bytes())["tokens"]["refresh_token"]

    switched = run_cli("switch", "alice", home=home)
    assert switched.returncode == 0, switched.stderr
    assert accounts(home) == [("alice", "ws-alice", True), ("bob", "ws-team", False)]
    assert seen_by_codex(codex, home) == ("alice@example.com", "ws-alice")

    assert run_cli("switch", "bob@example.com", home=home).returncode == 0
    assert seen_by_codex(codex, home) == ("bob@example.com", "ws-team")
    document = json.loads((home / "auth.json").read_bytes())
    assert document["tokens"]["refresh_token"] == bob_refresh  # the rotated one came back
    assert document["tokens"]["access_token"] == rotated.token
    with CodexAuth(codex_home=home, environ=environ, policy=FORCE_AT_ONCE) as auth:
        assert auth.refresh().token != rotated.token  # and the issuer still takes it


def test_an_inactive_account_refreshes_in_its_slot_at_the_real_issuer(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    log_in(home, issuer, "alice")
    log_in(home, issuer, "bob")
    active = (home / "auth.json").read_bytes()
    environ = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer)
    slot = home / "accounts" / "alice" / "auth.json"
    before = json.loads(slot.read_bytes())["tokens"]["refresh_token"]
    with CodexAuth(codex_home=home, environ=environ, policy=FORCE_AT_ONCE) as auth:
        alice = auth.for_account("alice")
        renewed = alice.refresh()
        alice.close()
    after = json.loads(slot.read_bytes())["tokens"]
    assert after["access_token"] == renewed.token
    assert after["refresh_token"] != before
    assert (home / "auth.json").read_bytes() == active
    token = run_cli("token", "--account", "alice", home=home, env=environ)
    assert (token.returncode, token.stdout.strip()) == (0, renewed.token), token.stderr
