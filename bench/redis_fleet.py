"""A fleet sharing one login through Redis: the refresh storm, and the token hot path.

    python bench/redis_fleet.py [--sizes 1 4 16 64] [--calls 20000] [--rounds 5]

The storm: for each N, one expired login and N `codex-login token` processes started
at once, against the fake issuer of tests/support (in this process, on loopback),
whose refresh tokens are single-use (a reuse revokes the whole grant).

- redis: the login in one redis-server (on loopback, no persistence); every process
  has its own empty CODEX_HOME, so Redis is all they share;
- file: the login in auth.json, one CODEX_HOME shared by all.

The table shows the refresh requests the issuer received, the processes that
failed, the wall time until all had exited, and whether the session is alive
afterwards (the stored refresh token still refreshes).

The hot path: the per-call cost of `AuthService.get_token()` while the login does
not change, in this process, on the file store (one stat), on the Redis store
(one GET of the version: a loopback round trip), and on the Redis store with
`client_side_cache=True` (Redis announces changes; an unchanged version costs one
poll of a socket). Beside them, one PING to the same redis-server: a round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import attrs
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from timing import Call, fresh_document, measure

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.redis.config import Keys, connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.domain.ports import CredentialStore
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import clean_env, run_each
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import write_login
from support.redis_server import RedisServer, running_redis

EXPIRED = timedelta(minutes=-1)
CHILD_TIMEOUT = 240.0


# -- the storm ------------------------------------------------------------------------------


@attrs.define
class Row:
    store: str
    size: int
    refreshes: int
    failures: int
    seconds: float
    alive: bool


def storm(envs: Sequence[dict[str, str]]) -> tuple[float, list[str]]:
    """One `codex-login token` per environment, all at once: wall seconds and the failures."""
    start = time.perf_counter()
    results = run_each("token", envs=envs, timeout=CHILD_TIMEOUT)
    failures = [r.stderr.strip() or f"exit {r.returncode}" for r in results if r.returncode]
    return time.perf_counter() - start, failures


def redis_storm(size: int, root: Path, server: RedisServer) -> tuple[Row, list[str]]:
    prefix = f"storm-{size}"
    with running_issuer(FakeIssuer()) as issuer, contextlib.closing(server.client()) as client:
        data = write_login(root / prefix, issuer.new_refresh_token(), expires_in=EXPIRED)
        (root / prefix / "auth.json").unlink()
        client.set(Keys(prefix).record, data)
        envs = [
            clean_env(
                root / prefix / f"home-{index}",
                CODEX_LOGIN_ISSUER=issuer.url,
                CODEX_LOGIN_STORE="redis",
                CODEX_LOGIN_REDIS_URL=server.url,
                CODEX_LOGIN_REDIS_PREFIX=prefix,
            )
            for index in range(size)
        ]
        seconds, failures = storm(envs)
        stored = json.loads(client.get(Keys(prefix).record) or b"{}")
        refresh_token = stored.get("tokens", {}).get("refresh_token", "")
        refreshes = len(issuer.posts("refresh_token"))
        row = Row("redis", size, refreshes, len(failures), seconds, alive(issuer, refresh_token))
    return row, failures


def file_storm(size: int, root: Path) -> tuple[Row, list[str]]:
    home = root / f"file-{size}"
    with running_issuer(FakeIssuer()) as issuer:
        write_login(home, issuer.new_refresh_token(), expires_in=EXPIRED)
        env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.url)
        seconds, failures = storm([env] * size)
        stored = json.loads((home / "auth.json").read_bytes())
        refreshes = len(issuer.posts("refresh_token"))
        session = alive(issuer, stored["tokens"]["refresh_token"])
        row = Row("file", size, refreshes, len(failures), seconds, session)
    return row, failures


def alive(issuer: FakeIssuer, refresh_token: str) -> bool:
    return bool(refresh_token) and issuer.refresh_token_works(refresh_token)


def print_storms(rows: list[Row]) -> None:
    print(
        f"{'store':<6} {'N':>3} {'refreshes':>9} {'failures':>8} {'wall s':>7} "
        f"{'x file':>6} {'session alive':>13}"
    )
    file_seconds = {row.size: row.seconds for row in rows if row.store == "file"}
    for row in rows:
        ratio = row.seconds / file_seconds[row.size] if row.size in file_seconds else 0.0
        print(
            f"{row.store:<6} {row.size:>3} {row.refreshes:>9} {row.failures:>8} "
            f"{row.seconds:>7.2f} {ratio:>6.2f} {'yes' if row.alive else 'NO':>13}"
        )


# -- the hot path ---------------------------------------------------------------------------


def get_token(store: CredentialStore) -> Call:
    return bootstrap(store=store, environ={}).get_token


@contextlib.contextmanager
def clients() -> Iterator[list[redis.Redis]]:
    """The clients opened in the block, closed after it."""
    opened: list[redis.Redis] = []
    try:
        yield opened
    finally:
        for client in opened:
            client.close()


FILE = "get_token(), file store"
REDIS = "get_token(), redis"
CACHED = "get_token(), redis, cached"
PING = "redis PING (a round trip)"


async def hot_path(root: Path, server: RedisServer, calls: int, rounds: int) -> dict[str, float]:
    data = fresh_document()
    (root / "auth.json").write_bytes(data)
    with clients() as opened:
        admin = connect(server.url)
        opened.append(admin)
        admin.set(Keys("hot").record, data)

        def redis_store(*, cached: bool) -> RedisCredentialStore:
            client = connect(server.url)
            opened.append(client)
            return RedisCredentialStore(client, prefix="hot", client_side_cache=cached)

        async def ping() -> object:
            return admin.ping()

        cases: dict[str, Call] = {
            FILE: get_token(FileCredentialStore(root)),
            REDIS: get_token(redis_store(cached=False)),
            CACHED: get_token(redis_store(cached=True)),
            PING: ping,
        }
        for call in cases.values():
            await call()  # the first call reads and parses the record
        return await measure(cases, calls, rounds)


def print_hot_path(results: dict[str, float], calls: int, rounds: int) -> None:
    print(f"{'per call':<28} {'µs':>8} {'x file':>7} {'x PING':>7}")
    for name, seconds in results.items():
        print(
            f"{name:<28} {seconds * 1e6:>8.2f} {seconds / results[FILE]:>7.2f} "
            f"{seconds / results[PING]:>7.2f}"
        )
    print(f"({calls} calls x {rounds} interleaved rounds; median round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    rows: list[Row] = []
    messages: set[str] = set()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        with running_redis(root / "redis") as server:
            for size in args.sizes:
                for row, failed in (file_storm(size, root), redis_storm(size, root, server)):
                    rows.append(row)
                    messages.update(f"{row.store}: {message}" for message in failed)
            (root / "hot").mkdir()
            results = asyncio.run(hot_path(root / "hot", server, args.calls, args.rounds))
    print_storms(rows)
    print(f"(fake issuer in this process, loopback; {os.cpu_count()} CPUs)")
    for message in sorted(messages):
        print(f"failure: {message.splitlines()[-1]}")
    print()
    print_hot_path(results, args.calls, args.rounds)


if __name__ == "__main__":
    main()
