"""A fleet sharing one login through Redis, against the oidc-provider issuer (a real peer).

64 `codex-login token` processes, each with its own empty CODEX_HOME (no shared
disk: Redis is all they share), start at once on an expired login. oidc-provider
rotates refresh tokens and revokes the grant when one is reused, so a second
refresh request would end the session: SPEC §4 and §6 say exactly one is sent.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login.adapters.redis.config import Keys
from interop.peers.browser_login import login_with_browser
from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from support.cli import clean_env, run_cli, run_each
from support.redis_server import MISSING, RedisServer, running_redis
from support.tokens import access_token

FLEET = 64
PREFIX = "fleet"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        issuer_unavailable_reason() is not None, reason=issuer_unavailable_reason() or ""
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason=MISSING),
]


def is_refresh(event: Event) -> bool:
    return event.get("event") == "grant.success" and event.get("grant_type") == "refresh_token"


def stored(server: RedisServer) -> dict[str, Any]:
    with contextlib.closing(server.client()) as client:
        data = client.get(Keys(PREFIX).record)
    assert isinstance(data, bytes), "the login is gone from Redis"
    document: dict[str, Any] = json.loads(data)
    return document


def store_expired(server: RedisServer, document: dict[str, Any]) -> None:
    """Store ``document`` with its real refresh token and an access token that expired."""
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(minutes=1))
    with contextlib.closing(server.client()) as client:
        client.set(Keys(PREFIX).record, json.dumps(document, indent=2).encode())


def fleet_env(home: Path, server: RedisServer, issuer: OidcIssuer) -> dict[str, str]:
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.issuer,
        CODEX_LOGIN_STORE="redis",
        CODEX_LOGIN_REDIS_URL=server.url,
        CODEX_LOGIN_REDIS_PREFIX=PREFIX,
    )


def test_a_fleet_of_64_sharing_redis_refreshes_once(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as server, OidcIssuer() as issuer:
        # A real login at oidc-provider, moved into Redis; no file is left behind.
        login_home = tmp_path / "login"
        assert login_with_browser(login_home, issuer).returncode == 0
        store_expired(server, json.loads((login_home / "auth.json").read_bytes()))
        shutil.rmtree(login_home)
        homes = [tmp_path / "fleet" / f"home-{index}" for index in range(FLEET)]

        started = time.monotonic()
        results = run_each("token", envs=[fleet_env(home, server, issuer) for home in homes])
        took = time.monotonic() - started

        assert [r.stderr for r in results if r.returncode != 0] == []
        document = stored(server)
        assert {r.stdout.strip() for r in results} == {document["tokens"]["access_token"]}
        issuer.wait_for_count(is_refresh, 1)
        # The session is alive: the stored refresh token refreshes once more.
        store_expired(server, document)
        again = run_cli("token", env=fleet_env(homes[0], server, issuer))
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == stored(server)["tokens"]["access_token"]
        refreshes = issuer.wait_for_count(is_refresh, 2)
        assert len(refreshes) == 2  # one for the fleet of 64, one for the check
        assert issuer.events("grant.error") == []
        assert issuer.events("grant.revoked") == []
    assert [p for p in (tmp_path / "fleet").rglob("*") if p.is_file()] == []
    print(f"\nfleet of {FLEET} on Redis against oidc-provider: {took:.1f} s")
