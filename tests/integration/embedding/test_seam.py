"""One seam between blocking code and coroutines, and one HTTP session for the token endpoint.

Refreshes and revokes run on the service's seam (one loop thread), never on an
event loop made for them with ``asyncio.run``; the endpoint's requests all run
there, so they share one aiohttp session: the fake issuer sees them come over one
kept-alive connection (one client port). A store whose fingerprint is a network
round trip (Redis without client-side caching) is never asked on the caller's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest

from codex_login import AsyncCodexAuth, CodexAuth
from codex_login.adapters.lazy_endpoint import LazyHttpTokenEndpoint
from codex_login.adapters.redis.config import connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.application.seam import Seam
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer, Recorded
from support.logins import write_login
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    redis_prefix_fixture,
    redis_server_fixture,
)

REFRESHES = 3


def expired_login(home: Path, issuer: FakeIssuer) -> bytes:
    return write_login(
        home, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1), issuer=issuer.url
    )


def clients_of(requests: list[Recorded]) -> set[tuple[str, int] | None]:
    return {request.peer for request in requests}


def test_refreshes_through_one_blocking_twin_share_one_http_connection(
    home: Path, issuer: FakeIssuer
) -> None:
    with CodexAuth(codex_home=home, environ={}) as auth:
        for _ in range(REFRESHES):
            expired_login(home, issuer)
            auth.get_token()
    refreshes = issuer.posts("refresh_token")
    assert len(refreshes) == REFRESHES
    assert len(clients_of(refreshes)) == 1


def test_refreshes_through_one_async_twin_on_several_loops_share_one_http_connection(
    home: Path, issuer: FakeIssuer
) -> None:
    auth = AsyncCodexAuth(codex_home=home, environ={})
    for _ in range(REFRESHES):
        expired_login(home, issuer)
        asyncio.run(auth.get_token())  # a new caller's loop each time
    asyncio.run(auth.aclose())
    refreshes = issuer.posts("refresh_token")
    assert len(refreshes) == REFRESHES
    assert len(clients_of(refreshes)) == 1


def test_the_endpoint_makes_one_session_until_closed_then_one_more(
    home: Path, issuer: FakeIssuer
) -> None:
    auth = CodexAuth(codex_home=home, environ={})
    endpoint = auth.service.endpoint
    assert isinstance(endpoint, LazyHttpTokenEndpoint)
    for _ in range(REFRESHES):
        expired_login(home, issuer)
        auth.get_token()
    assert endpoint.sessions_made == 1
    auth.close()  # closes the session on the seam's loop, and stops its thread
    expired_login(home, issuer)
    auth.get_token()
    auth.close()
    assert endpoint.sessions_made == 2
    assert len(clients_of(issuer.posts("refresh_token"))) == 2


def test_a_logout_revokes_over_the_connection_the_refresh_opened(
    home: Path, issuer: FakeIssuer
) -> None:
    expired_login(home, issuer)
    with CodexAuth(codex_home=home, environ={}) as auth:
        auth.get_token()
        assert auth.logout().revoked
    assert len(clients_of(issuer.posts("refresh_token") + issuer.requests_to("/oauth/revoke"))) == 1


# More than a loop's default executor has threads (min(32, CPUs + 4)).
AT_ONCE = 40


def test_more_refreshes_at_once_than_a_loop_has_default_workers_all_finish(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """Each refresh holds its store's lock on a worker thread while its POST runs on the
    shared seam's loop, and a request may need that loop's default executor (aiohttp
    reads .netrc there): were the lock holders on it, the POSTs would find no thread."""
    seam = Seam()
    twins = []
    for n in range(AT_ONCE):
        home = tmp_path / f"login-{n}"
        expired_login(home, issuer)
        service = bootstrap(codex_home=home, environ={})
        options = attrs.evolve(service.options, refresh_timeout=15.0)
        twins.append(CodexAuth(service=attrs.evolve(service, seam=seam, options=options)))
    barrier = threading.Barrier(AT_ONCE)

    def refresh(auth: CodexAuth) -> str:
        barrier.wait()
        return auth.get_token()

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            tokens = list(pool.map(refresh, twins))
    finally:
        seam.close()
    assert len(set(tokens)) == AT_ONCE
    assert len(issuer.posts("refresh_token")) == AT_ONCE


def forbidden(*args: Any, **kwargs: Any) -> NoReturn:
    for work in args:
        if asyncio.iscoroutine(work):
            work.close()
    raise AssertionError("asyncio.run was called: a new event loop for one request")


def test_a_blocking_refresh_and_logout_make_no_event_loop_of_their_own(
    home: Path, issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired_login(home, issuer)
    monkeypatch.setattr(asyncio, "run", forbidden)
    with CodexAuth(codex_home=home, environ={}) as auth:
        auth.get_token()
        assert auth.logout().revoked
    assert len(issuer.posts("refresh_token")) == 1


def test_an_async_refresh_and_logout_make_no_event_loop_of_their_own(
    home: Path, issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired_login(home, issuer)
    monkeypatch.setattr(asyncio, "run", forbidden)

    async def scenario() -> bool:
        async with AsyncCodexAuth(codex_home=home, environ={}) as auth:
            await auth.get_token()
            return (await auth.logout()).revoked

    with asyncio.Runner() as runner:  # not asyncio.run, which is patched to refuse
        assert runner.run(scenario())
    assert len(issuer.posts("refresh_token")) == 1


class WatchedRedisStore(RedisCredentialStore):
    """The Redis store, recording which thread asked for each fingerprint."""

    askers: list[int]

    def fingerprint(self) -> Hashable:
        self.askers.append(threading.get_ident())
        return super().fingerprint()


def test_a_redis_fingerprint_is_never_asked_on_the_caller_s_loop(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    client = connect(redis_server.url)
    store = WatchedRedisStore(client, prefix=redis_prefix)
    store.askers = []
    CodexAuth(store=store, environ={}).login_with_api_key("sk-redis-1234567890")

    async def twice() -> int:
        auth = AsyncCodexAuth(store=store, environ={})
        assert await auth.get_token() == "sk-redis-1234567890"  # reads the record
        assert await auth.get_token() == "sk-redis-1234567890"  # unchanged: the hot path
        return threading.get_ident()

    try:
        store.askers.clear()
        caller = asyncio.run(twice())
    finally:
        client.close()
    assert store.askers, "the fingerprint was never asked"
    assert caller not in store.askers


@pytest.mark.parametrize("warnings", ["always::ResourceWarning", "error::ResourceWarning"])
def test_token_with_a_refresh_due_prints_only_the_token(
    home: Path, issuer: FakeIssuer, warnings: str
) -> None:
    """The CLI closes the endpoint's session at exit: no "Unclosed client session"."""
    expired_login(home, issuer)
    result = run_cli("token", env=clean_env(home, PYTHONWARNINGS=warnings))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip()
    assert len(issuer.posts("refresh_token")) == 1
