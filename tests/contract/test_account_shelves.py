"""Accounts on every kind of store: park on login, list, switch, act on a slot, forget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codex_login.application.accounts import commit_login
from codex_login.application.service import AuthService
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.testing import FakeIssuer
from support.keyring_backends import MemoryKeyring
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    redis_prefix_fixture,
    redis_server_fixture,
)

Make = Callable[[], AuthService]


def environment(issuer: FakeIssuer, **more: str) -> dict[str, str]:
    return {"CODEX_LOGIN_ISSUER": issuer.url, "CODEX_LOGIN_ISSUER_PROFILE": "openai", **more}


@pytest.fixture(params=["file", "keyring", "redis"])
def make(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    issuer: FakeIssuer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Make]:
    kind = request.param
    env = environment(issuer, CODEX_LOGIN_STORE=kind, CODEX_HOME=str(tmp_path / "codex"))
    if kind == "keyring":
        keys = MemoryKeyring()
        import keyring  # noqa: PLC0415

        monkeypatch.setattr(keyring, "get_keyring", lambda: keys)
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        env |= {"CODEX_LOGIN_REDIS_URL": server.url}
        env |= {"CODEX_LOGIN_REDIS_PREFIX": request.getfixturevalue("redis_prefix")}
    made: list[AuthService] = []

    def service() -> AuthService:
        made.append(bootstrap(environ=env))
        return made[-1]

    yield service
    # Closed as each test ends: left to the collector, a Redis client caught in a reference
    # cycle is closed in another test, with a ResourceWarning (an error here).
    for each in made:
        each.close_storage()


def log_in_as(service: AuthService, issuer: FakeIssuer, email: str, workspace: str) -> None:
    issuer.claims = {"email": email, "account_id": workspace}
    record = issuer.login_record()
    commit_login(service.store, service.book, lambda _: record)  # what every login commits


def test_accounts_round_trip_on_every_store(make: Make, issuer: FakeIssuer) -> None:
    log_in_as(make(), issuer, "alice@example.com", "ws-a")
    log_in_as(make(), issuer, "bob@example.com", "ws-b")
    service = make()
    assert [(a.name, a.active) for a in service.accounts()] == [("alice", False), ("bob", True)]

    issuer.claims = {"email": "alice@example.com", "account_id": "ws-a"}
    refreshed = asyncio.run(make().for_account("alice").refresh())
    assert refreshed.account_id == "ws-a"
    assert make().status() is not None
    assert make().status().email == "bob@example.com"  # type: ignore[union-attr]

    assert make().switch("alice").name == "alice"
    after = make()
    assert [(a.name, a.active) for a in after.accounts()] == [("alice", True), ("bob", False)]
    assert asyncio.run(after.get_token()) == refreshed.token  # the slot's rotated tokens came back

    result = asyncio.run(make().for_account("bob").logout(revoke=False))
    assert result.removed
    assert [a.name for a in make().accounts()] == ["alice"]


def test_a_service_with_its_own_store_and_no_shelf_keeps_one_login(issuer: FakeIssuer) -> None:
    from codex_login.adapters.memory_store import MemoryCredentialStore  # noqa: PLC0415

    service = bootstrap(store=MemoryCredentialStore(), environ=environment(issuer))
    assert service.book is None
    with pytest.raises(Exception, match="no account shelf"):
        service.accounts()
