"""The cross-process refresh protocol (SPEC §4) on the file store and on the Redis store alike.

Each scenario runs twice: once on the file store (every process shares one
CODEX_HOME), once on the Redis store, where every process has its own empty
CODEX_HOME: nothing is shared on disk, so the lease and the record in Redis are
all the processes coordinate through. The issuer is the fake one, whose refresh
tokens are single-use (a reuse revokes the whole grant).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import redis

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.redis.config import Keys, connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.domain.errors import SessionEnded
from codex_login.domain.ports import CredentialStore
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.testing.issuer import Failure, FakeIssuer
from support.cli import clean_env, run_cli, run_each
from support.logins import write_login
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    redis_prefix_fixture,
    redis_server_fixture,
)

pytestmark = pytest.mark.slow

EXPIRED = timedelta(minutes=-1)
DUE = timedelta(minutes=1)  # inside the refresh margin: a refresh is due
LOGIN_NEEDED = 4  # `token`'s exit status when a person must log in (SPEC §5)


@attrs.define
class Shared:
    """Where the processes of one test find the login: one CODEX_HOME, or one Redis."""

    kind: str
    root: Path
    issuer: FakeIssuer
    server: RedisServer | None = None
    prefix: str = ""
    clients: list[redis.Redis] = attrs.Factory(list)  # closed after the test

    def home(self, index: int) -> Path:
        return self.root / ("codex" if self.kind == "file" else f"home-{index}")

    def env(self, index: int = 0) -> dict[str, str]:
        """The environment of the ``index``-th process."""
        env = clean_env(
            self.home(index),
            CODEX_LOGIN_ISSUER=self.issuer.url,
            CODEX_LOGIN_ISSUER_PROFILE="openai",
        )
        if self.server is not None:
            env.update(
                CODEX_LOGIN_STORE="redis",
                CODEX_LOGIN_REDIS_URL=self.server.url,
                CODEX_LOGIN_REDIS_PREFIX=self.prefix,
            )
        return env

    def put_login(self, refresh_token: str, *, expires_in: timedelta) -> bytes:
        """Store a ChatGPT login (auth.json bytes) where the processes look; return them."""
        if self.server is None:
            return write_login(self.home(0), refresh_token, expires_in=expires_in)
        staging = self.root / "staging"
        data = write_login(staging, refresh_token, expires_in=expires_in)
        (staging / "auth.json").unlink()
        with contextlib.closing(self.server.client()) as client:
            client.set(Keys(self.prefix).record, data)
        return data

    def stored_bytes(self) -> bytes | None:
        if self.server is None:
            path = self.home(0) / "auth.json"
            return path.read_bytes() if path.exists() else None
        with contextlib.closing(self.server.client()) as client:
            value = client.get(Keys(self.prefix).record)
        assert value is None or isinstance(value, bytes)
        return value

    def stored(self) -> dict[str, Any]:
        data = self.stored_bytes()
        assert data is not None, "the login is gone"
        document: dict[str, Any] = json.loads(data)
        return document

    def store(self) -> CredentialStore:
        """The same store, in this process."""
        if self.server is None:
            return FileCredentialStore(self.home(0))
        client = connect(self.server.url)
        self.clients.append(client)
        return RedisCredentialStore(client, prefix=self.prefix)

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def assert_nothing_on_disk(self) -> None:
        """With Redis, no process wrote anything in its CODEX_HOME (there is nothing to share)."""
        if self.server is not None:
            written = [p for p in self.root.rglob("*") if p.is_file()]
            assert written == [], written


@pytest.fixture(params=["file", "redis"])
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, codex_fake_issuer: FakeIssuer
) -> Iterator[Shared]:
    if request.param == "file":
        yield Shared("file", tmp_path, codex_fake_issuer)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix: str = request.getfixturevalue("redis_prefix")
    where = Shared("redis", tmp_path, codex_fake_issuer, server, prefix)
    try:
        yield where
    finally:
        where.close()


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a failed command said, without the notices of a wait for the lock."""
    return [line for line in result.stderr.splitlines() if not line.startswith("Waiting for ")]


# -- the storm ----------------------------------------------------------------------------


def test_sixteen_processes_send_one_refresh_and_all_succeed(shared: Shared) -> None:
    issuer = shared.issuer
    first = issuer.new_refresh_token()
    shared.put_login(first, expires_in=EXPIRED)
    results = run_each("token", envs=[shared.env(i) for i in range(16)])
    assert [r.stderr for r in results if r.returncode != 0] == []
    document = shared.stored()
    assert {r.stdout.strip() for r in results} == {document["tokens"]["access_token"]}
    assert len(issuer.posts("refresh_token")) == 1
    # The session survived: the stored refresh token is the live one.
    assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
    assert not issuer.refresh_token_works(first)
    assert document["note"] == "kept"
    shared.assert_nothing_on_disk()


# -- adopting another process's refresh ---------------------------------------------------


@attrs.define
class OtherProcessFirst:
    """A store whose next ``exclusive()`` first lets another process do ``meanwhile``.

    It puts the other process's whole refresh between our unlocked read (step 1
    of SPEC §4) and our taking the lock (step 2).
    """

    inner: CredentialStore
    meanwhile: Callable[[], None] | None

    @property
    def location(self) -> str:
        return self.inner.location

    def load(self) -> Loaded | None:
        return self.inner.load()

    def save(self, record: CredentialRecord) -> None:
        self.inner.save(record)

    def delete(self) -> bool:
        return self.inner.delete()

    def fingerprint(self) -> Hashable:
        return self.inner.fingerprint()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        with self.inner.exclusive():
            yield


def test_a_refresh_by_another_process_before_our_lock_is_adopted(shared: Shared) -> None:
    issuer = shared.issuer
    shared.put_login(issuer.new_refresh_token(), expires_in=EXPIRED)
    others: list[subprocess.CompletedProcess[str]] = []

    def another_process_refreshes() -> None:
        others.append(run_cli("token", env=shared.env(1)))

    store = OtherProcessFirst(shared.store(), another_process_refreshes)
    service = bootstrap(store=store, issuer=issuer.url, environ={})
    token = asyncio.run(service.get_token())
    [other] = others
    assert other.returncode == 0, other.stderr
    committed = shared.stored_bytes()
    assert token == other.stdout.strip() == shared.stored()["tokens"]["access_token"]
    assert len(issuer.posts("refresh_token")) == 1  # the other's: we posted nothing
    assert shared.stored_bytes() == committed  # and wrote nothing
    assert issuer.refresh_token_works(shared.stored()["tokens"]["refresh_token"])
    shared.assert_nothing_on_disk()


# -- failures -------------------------------------------------------------------------------


def test_a_transient_failure_leaves_the_record_and_a_later_call_succeeds(shared: Shared) -> None:
    issuer = shared.issuer
    first = issuer.new_refresh_token()
    before = shared.put_login(first, expires_in=DUE)
    issuer.refresh_failure = Failure(503, "<html>busy</html>", "text/html", times=1)
    failed = run_cli("token", env=shared.env(0))
    assert failed.returncode == 1
    [line] = error_lines(failed)
    assert "HTTP 503" in line
    assert shared.stored_bytes() == before
    assert issuer.refresh_token_works(first)  # a 5xx spent nothing
    later = run_cli("token", env=shared.env(1))
    assert later.returncode == 0, later.stderr
    document = shared.stored()
    assert later.stdout.strip() == document["tokens"]["access_token"]
    assert len(issuer.posts("refresh_token")) == 2
    assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
    assert document["note"] == "kept"
    shared.assert_nothing_on_disk()


def spend_at_the_issuer(issuer: FakeIssuer, refresh_token: str) -> None:
    """Another program refreshes with ``refresh_token`` behind our back."""
    body = json.dumps(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        }
    ).encode()
    request = urllib.request.Request(
        f"{issuer.url}/oauth/token", body, {"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(request, timeout=30) as answer:
        assert answer.status == 200


PERMANENT = {
    "reused": (
        Failure(400, '{"error": {"code": "refresh_token_reused", "message": "used"}}'),
        "already used, probably by another program",
    ),
    "401": (Failure(401, '{"error": "unauthorized"}'), "rejected the refresh token (HTTP 401"),
    "spent elsewhere": (None, "already used, probably by another program"),
}


@pytest.mark.parametrize("case", list(PERMANENT))
def test_a_permanent_failure_ends_the_session_and_keeps_the_record(
    shared: Shared, case: str
) -> None:
    issuer = shared.issuer
    failure, message = PERMANENT[case]
    first = issuer.new_refresh_token()
    before = shared.put_login(first, expires_in=DUE)
    if failure is None:
        spend_at_the_issuer(issuer, first)  # a real reuse: the issuer revokes the grant
    else:
        issuer.refresh_failure = failure
    result = run_cli("token", env=shared.env(0))
    assert (result.returncode, result.stdout) == (LOGIN_NEEDED, "")
    [line] = error_lines(result)
    assert message in line
    assert line.endswith("run `codex-login login` to sign in again")
    assert shared.stored_bytes() == before
    # In-process, the same failure is a SessionEnded, and the record is still kept.
    service = bootstrap(store=shared.store(), issuer=issuer.url, environ={})
    with pytest.raises(SessionEnded):
        asyncio.run(service.get_token())
    assert shared.stored_bytes() == before
    shared.assert_nothing_on_disk()
