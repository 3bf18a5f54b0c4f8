"""A refresh storm through the token broker against a real issuer (oidc-provider).

200 clients ask one `codex-login serve` for a token while the stored one is expired:
the issuer sees exactly one refresh, all 200 get the same new access token, the
rotated refresh token still works, and the real Codex CLI reads the file afterwards.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interop.peers.browser_login import login_with_browser
from interop.peers.codex_peer import clean_stderr, run_codex
from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from support.broker import running_broker, storm, unix_request
from support.cli import clean_env
from support.tokens import access_token

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

CLIENTS = 200


def tokens_of(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    tokens: dict[str, Any] = document["tokens"]
    return tokens


def expire_access_token(home: Path) -> str:
    """Keep the issuer's refresh token; make the access token look expired. Returns it."""
    document = json.loads((home / "auth.json").read_bytes())
    expired = access_token(datetime.now(UTC) - timedelta(minutes=1))
    document["tokens"]["access_token"] = expired
    (home / "auth.json").write_text(json.dumps(document, indent=2))
    return expired


def is_refresh(event: Event) -> bool:
    return event.get("event") == "grant.success" and event.get("grant_type") == "refresh_token"


def test_two_hundred_broker_clients_share_one_refresh_at_oidc_provider(
    tmp_path: Path, codex: Path
) -> None:
    home = tmp_path / "codex"
    with OidcIssuer() as issuer:
        login = login_with_browser(home, issuer)
        assert login.returncode == 0, login.stderr
        first_refresh = tokens_of(home)["refresh_token"]
        expired = expire_access_token(home)
        env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer)
        with running_broker(home, env=env) as broker:
            assert broker.socket is not None
            results = storm(broker.socket, CLIENTS)
            assert [r for r in results if r[0] != 200] == []
            handed_out = {token for _, token in results}
            assert len(results) == CLIENTS
            assert len(handed_out) == 1
            (token,) = handed_out
            assert token != expired
            refreshes = issuer.wait_for_count(is_refresh, 1)
            assert len(refreshes) == 1, refreshes
            stored = tokens_of(home)
            assert stored["access_token"] == token
            assert stored["refresh_token"] != first_refresh  # rotated

            # The rotated refresh token works: expire again, and the broker refreshes once more.
            expire_access_token(home)
            again = unix_request(broker.socket)
            assert again.status == 200, again.body
            assert again.json()["access_token"] not in (token, expired)
            refreshes = issuer.wait_for_count(is_refresh, 2)
            assert len(refreshes) == 2
            assert issuer.events("grant.error") == []
            assert issuer.events("grant.revoked") == []
            assert broker.stop() == 0
        assert "Traceback" not in broker.stderr()
    status = run_codex(codex, ["login", "status"], home)
    assert (status.returncode, clean_stderr(status.stderr)) == (0, "Logged in using ChatGPT")
