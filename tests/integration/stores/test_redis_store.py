"""The Redis store against a real redis-server: leases, fencing, errors, the CLI."""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
import redis
import trustme

import codex_login.adapters
from codex_login.adapters import auth_json
from codex_login.adapters.redis import version_cache
from codex_login.adapters.redis.config import Keys, connect
from codex_login.adapters.redis.lease import held_by_this_process, holder_of, new_token
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.domain.errors import (
    ConfigurationError,
    LeaseLost,
    LockTimeout,
    MalformedCredentials,
    StorageError,
)
from codex_login.entrypoints.bootstrap import make_store
from codex_login.entrypoints.embedding import CodexAuth
from codex_login.entrypoints.redis_wiring import redis_settings_from
from codex_login.testing.contract import chatgpt_record
from codex_login.testing.issuer import FakeIssuer
from support.cli import clean_env, run_all, run_in_process
from support.logins import issuer_env, write_login
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    Tls,
    free_port,
    redis_prefix_fixture,
    redis_server_fixture,
    running_redis,
)
from support.waiting import wait_until

PASSWORD = "correct-horse-battery-staple"
API_KEY = "sk-test-redis-0123456789"
WAIT = 30.0  # the bound on every wait for a condition


OPENED: list[RedisCredentialStore] = []  # by store(): closed when the test ends


def store(server: RedisServer, prefix: str, **options: object) -> RedisCredentialStore:
    made = RedisCredentialStore(connect(server.url), prefix=prefix, **options)  # type: ignore[arg-type]
    OPENED.append(made)
    return made


@contextlib.contextmanager
def others_connected(server: RedisServer) -> Iterator[Callable[[], set[str]]]:
    """The ids of the server's connections other than the one asking."""
    with contextlib.closing(server.client()) as client:
        me = str(client.client_id())
        yield lambda: {each["id"] for each in client.client_list()} - {me}


@pytest.fixture(autouse=True)
def close_the_stores() -> Iterator[None]:
    """Close what store() made when the test ends. Left to the collector, a connection
    caught in a reference cycle (a retried error's traceback holds one) is closed at a
    moment of its choosing, in another test, with a ResourceWarning (an error here)."""
    yield
    while OPENED:
        OPENED.pop().close()


def stored_bytes(server: RedisServer, prefix: str) -> bytes | None:
    with contextlib.closing(server.client()) as client:
        value = client.get(Keys(prefix).record)
    assert value is None or isinstance(value, bytes)
    return value


def in_another_process(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked child and wait (bounded) for it to succeed."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=work, daemon=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", Warning)
        child.start()
    child.join(WAIT)
    if child.is_alive():
        child.kill()
        child.join()
    assert child.exitcode == 0, f"the other process failed (exit code {child.exitcode})"


def commands_called(server: RedisServer, command: str) -> int:
    with contextlib.closing(server.client()) as client:
        stats = client.info("commandstats").get(f"cmdstat_{command}", {})
    calls: int = stats.get("calls", 0)
    return calls


@pytest.fixture
def reset_stats(redis_server: RedisServer) -> None:
    with contextlib.closing(redis_server.client()) as client:
        client.config_resetstat()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of this module's own, for tests that flush or restart it."""
    with running_redis(tmp_path_factory.mktemp("own-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("locked-redis"), password=PASSWORD) as server:
        yield server


# -- the wire format ------------------------------------------------------------------


def test_the_stored_bytes_are_the_auth_json_bytes(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    record = chatgpt_record(1, written_by="another tool ✓", nested={"a": [1, None]})
    store(redis_server, redis_prefix).save(record)
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(record)


def test_unknown_fields_written_by_another_tool_survive_a_rewrite(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    document = json.loads(auth_json.encode(chatgpt_record(1)))
    document["from_a_newer_tool"] = {"keep": ["me", 1]}
    document["tokens"]["login_owner_id"] = "owner-7"
    with contextlib.closing(redis_server.client()) as client:
        client.set(Keys(redis_prefix).record, json.dumps(document, indent=2).encode())
    redis_store = store(redis_server, redis_prefix)
    loaded = redis_store.load()
    assert loaded is not None
    redis_store.save(attrs.evolve(loaded.record, openai_api_key=API_KEY))
    rewritten = json.loads(stored_bytes(redis_server, redis_prefix) or b"")
    assert rewritten["from_a_newer_tool"] == {"keep": ["me", 1]}
    assert rewritten["tokens"]["login_owner_id"] == "owner-7"
    assert rewritten["OPENAI_API_KEY"] == API_KEY


def test_a_malformed_record_names_the_key(redis_server: RedisServer, redis_prefix: str) -> None:
    with contextlib.closing(redis_server.client()) as client:
        client.set(Keys(redis_prefix).record, b"{not json")
    with pytest.raises(MalformedCredentials) as caught:
        store(redis_server, redis_prefix).load()
    assert caught.value.location.endswith(f" key {{{redis_prefix}:default}}:record")
    assert caught.value.problem.startswith("it is not valid JSON")


def test_an_embedders_decoding_client_keeps_the_bytes_exact(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    record = chatgpt_record(1, note="é ✓")
    client = redis_server.client(decode_responses=True)
    redis_store = RedisCredentialStore(client, prefix=redis_prefix)
    redis_store.save(record)
    loaded = redis_store.load()
    assert loaded is not None
    assert loaded.record == record
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(record)


def test_the_keys_share_one_hash_tag(redis_server: RedisServer, redis_prefix: str) -> None:
    redis_store = store(redis_server, redis_prefix)
    with redis_store.exclusive():
        redis_store.save(chatgpt_record())
        with contextlib.closing(redis_server.client(decode_responses=True)) as client:
            keys = sorted(str(key) for key in client.keys(f"{{{redis_prefix}:*"))
    tag = f"{{{redis_prefix}:default}}"
    assert keys == [f"{tag}:lock", f"{tag}:record", f"{tag}:version"]
    assert redis_store.location == f"redis://{redis_server.address}/0 key {tag}:record"


# -- the lease and fencing --------------------------------------------------------------


def test_a_writer_whose_lease_expired_cannot_overwrite_a_newer_record(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    paused = store(redis_server, redis_prefix, lease_ttl=0.5, renew=False)
    paused.save(chatgpt_record(1))
    with paused.exclusive():
        assert paused.load() is not None
        # "Paused": while it waits for the other process, its lease runs out, and the
        # other process takes the lease and commits.
        in_another_process(lambda: store(redis_server, redis_prefix).save(chatgpt_record(2)))
        with pytest.raises(LeaseLost) as caught:
            paused.save(chatgpt_record(3))
    assert str(caught.value) == (
        f"nothing was written to {{{redis_prefix}:default}}:record: another writer committed "
        "a newer record since this one was read; read it again and retry"
    )
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(chatgpt_record(2))


def test_a_writer_whose_lease_expired_while_nobody_else_wrote_still_commits(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """Its tokens may be the only live ones (the issuer rotated them): keep them."""
    paused = store(redis_server, redis_prefix, lease_ttl=0.3, renew=False)
    paused.save(chatgpt_record(1))
    lock = Keys(redis_prefix).lock
    with paused.exclusive():
        assert paused.load() is not None
        with contextlib.closing(redis_server.client()) as client:
            wait_until(lambda: not client.exists(lock), WAIT, "the lease to expire")
        paused.save(chatgpt_record(3))
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(chatgpt_record(3))


def test_a_writer_whose_lease_another_writer_holds_now_is_refused(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    paused = store(redis_server, redis_prefix, lease_ttl=0.3, renew=False)
    paused.save(chatgpt_record(1))
    lock = Keys(redis_prefix).lock
    with paused.exclusive():
        assert paused.load() is not None
        with contextlib.closing(redis_server.client()) as client:
            wait_until(
                lambda: client.set(lock, "another-writer", nx=True, px=30_000),
                WAIT,
                "the lease to expire",
            )
            with pytest.raises(LeaseLost, match="may be another writer's now"):
                paused.save(chatgpt_record(3))
            client.delete(lock)
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(chatgpt_record(1))


def test_a_cached_version_is_read_again_after_its_maximum_age(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener cut silently would never announce a change: the cache expires anyway."""
    monkeypatch.setattr(version_cache, "CACHE_MAX_AGE", 0.0)
    cached = store(redis_server, redis_prefix, client_side_cache=True)
    store(redis_server, redis_prefix).save(chatgpt_record())
    cached.fingerprint()
    reads = commands_called(redis_server, "get")
    for _ in range(5):
        cached.fingerprint()
    assert commands_called(redis_server, "get") == reads + 5


def test_a_commit_after_another_writer_committed_is_refused(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    redis_store = store(redis_server, redis_prefix)
    redis_store.save(chatgpt_record(1))
    keys = Keys(redis_prefix)
    rogue = auth_json.encode(chatgpt_record(2))
    with redis_store.exclusive():
        assert redis_store.load() is not None
        with contextlib.closing(redis_server.client()) as client:  # a writer ignoring the lease
            client.set(keys.record, rogue)
            client.incr(keys.version)
        with pytest.raises(LeaseLost, match="another writer committed a newer record"):
            redis_store.save(chatgpt_record(3))
        with pytest.raises(LeaseLost, match="nothing was written"):
            redis_store.delete()
    assert stored_bytes(redis_server, redis_prefix) == rogue


def test_a_commit_the_server_refuses_part_way_writes_nothing(
    own_server: RedisServer, redis_prefix: str
) -> None:
    """A script is not rolled back when a command in it fails (here TIME, which an ACL
    made of @read, @write and @scripting leaves out): the commit writes last, so a
    refusal leaves no record without its version."""
    with contextlib.closing(own_server.client()) as admin:
        admin.acl_setuser(
            "no-time", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-time"]
        )
        limited = RedisCredentialStore(
            connect(f"redis://no-time:pw@{own_server.address}/0"), prefix=redis_prefix
        )
        OPENED.append(limited)
        with pytest.raises(StorageError, match="refused"):
            limited.save(chatgpt_record(1))
        keys = Keys(redis_prefix)
        assert (admin.get(keys.record), admin.get(keys.version)) == (None, None)


def test_a_record_write_the_server_refuses_puts_the_version_back(
    own_server: RedisServer, redis_prefix: str
) -> None:
    """Here DEL (a logout) is refused after the version moved: the commit fails with
    Redis's refusal, the version is as it was, and the record stays."""
    keys = Keys(redis_prefix)
    store(own_server, redis_prefix).save(chatgpt_record(1))
    with contextlib.closing(own_server.client()) as admin:
        before = (admin.get(keys.record), admin.get(keys.version))
        admin.acl_setuser(
            "no-del", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-del"]
        )
        limited = RedisCredentialStore(
            connect(f"redis://no-del:pw@{own_server.address}/0"), prefix=redis_prefix
        )
        OPENED.append(limited)
        with pytest.raises(StorageError) as caught:
            limited.delete()
        assert not isinstance(caught.value, LeaseLost)  # not "another writer committed"
        assert "may not run a command the store needs" in str(caught.value)
        assert (admin.get(keys.record), admin.get(keys.version)) == before


def test_the_renewal_keeps_a_held_lease_across_three_ttls(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    ttl = 0.3
    holder = store(redis_server, redis_prefix, lease_ttl=ttl)
    rival = store(redis_server, redis_prefix, lock_timeout=0.05)
    holder.save(chatgpt_record(1))
    with holder.exclusive():
        end = time.monotonic() + 3 * ttl
        attempts = 0
        while time.monotonic() < end:  # each attempt waits its 0.05 s bound
            with pytest.raises(LockTimeout), rival.exclusive():
                pass
            attempts += 1
        holder.save(chatgpt_record(2))
    assert attempts > 3
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(chatgpt_record(2))


def test_the_lease_is_released_for_the_next_writer(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    first, second = store(redis_server, redis_prefix), store(redis_server, redis_prefix)
    with first.exclusive():
        first.save(chatgpt_record(1))
    with contextlib.closing(redis_server.client()) as client:
        assert client.exists(Keys(redis_prefix).lock) == 0
    started = time.monotonic()
    second.save(chatgpt_record(2))
    assert time.monotonic() - started < 5.0  # no wait for an expiry


@pytest.mark.usefixtures("reset_stats")
def test_a_waiting_writer_backs_off(redis_server: RedisServer, redis_prefix: str) -> None:
    holder = store(redis_server, redis_prefix)
    waiter = store(redis_server, redis_prefix, lock_timeout=1.0)
    with holder.exclusive():
        before = commands_called(redis_server, "set")
        with pytest.raises(LockTimeout):
            waiter.save(chatgpt_record())
        attempts = commands_called(redis_server, "set") - before
    assert 3 <= attempts < 30, f"{attempts} SET NX attempts in a 1 s wait"


def test_a_waiting_writer_says_so_then_gives_up_naming_the_lease(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    notices: list[str] = []
    holder = store(redis_server, redis_prefix)
    waiter = store(redis_server, redis_prefix, lock_timeout=1.3, notify=notices.append)
    lock = f"{{{redis_prefix}:default}}:lock"
    with holder.exclusive():
        started = time.monotonic()
        with pytest.raises(LockTimeout) as caught:
            waiter.save(chatgpt_record())
        waited = time.monotonic() - started
    assert 1.3 <= waited < 1.3 + 2.0
    who = f"pid {os.getpid()} on {socket.gethostname()}"  # the holder, named as file locks are
    assert str(caught.value) == (
        f"gave up after 1.3 s waiting for the lease {lock} held by {who}; "
        "set CODEX_LOGIN_LOCK_TIMEOUT to wait longer"
    )
    assert notices == [
        f"Waiting for the lease {lock} held by {who}; giving up after 1.3 s "
        "(CODEX_LOGIN_LOCK_TIMEOUT changes this)"
    ]
    assert holder.lease_holder() is None  # let go at the end of its block


def test_a_lease_of_an_older_release_is_held_by_another_writer() -> None:
    assert holder_of(b"0123456789abcdef0123456789abcdef") == "another writer"
    assert holder_of(b"box-1:4242:00ff") == "pid 4242 on box-1"
    assert holder_of(new_token()) == f"pid {os.getpid()} on {socket.gethostname()}"


def test_only_a_lease_this_process_made_is_taken_again_with_its_token() -> None:
    """A child made by fork() inherits the parent's unreleased token: reusing it would
    make the two one holder."""
    assert held_by_this_process(new_token())
    assert not held_by_this_process(f"box-1:{os.getpid() + 1}:00ff")
    assert not held_by_this_process("0123456789abcdef0123456789abcdef")


# -- client-side caching of the fingerprint -------------------------------------------------


@pytest.mark.usefixtures("reset_stats")
def test_an_unchanged_cached_fingerprint_costs_no_round_trip(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    cached = store(redis_server, redis_prefix, client_side_cache=True)
    store(redis_server, redis_prefix).save(chatgpt_record())
    first = cached.fingerprint()
    reads = commands_called(redis_server, "get")
    assert [cached.fingerprint() for _ in range(200)] == [first] * 200
    assert commands_called(redis_server, "get") == reads


def test_a_write_by_another_client_invalidates_the_cached_fingerprint(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    cached = store(redis_server, redis_prefix, client_side_cache=True)
    before = cached.fingerprint()
    with contextlib.closing(redis_server.client()) as client:
        client.incr(Keys(redis_prefix).version)  # any writer: another host, redis-cli
    deadline = time.monotonic() + WAIT
    while cached.fingerprint() == before and time.monotonic() < deadline:
        pass  # the announcement is in flight for microseconds
    assert cached.fingerprint() != before


def test_a_flush_clears_the_cached_fingerprint(own_server: RedisServer) -> None:
    cached = store(own_server, "flush", client_side_cache=True)
    store(own_server, "flush").save(chatgpt_record())
    before = cached.fingerprint()
    own_server.flush()
    deadline = time.monotonic() + WAIT
    while cached.fingerprint() == before and time.monotonic() < deadline:
        pass
    assert cached.fingerprint() == 0
    assert cached.load() is None


@pytest.mark.parametrize("client_side_cache", [False, True])
def test_a_redis_restarted_empty_never_repeats_a_fingerprint(
    own_server: RedisServer, client_side_cache: bool
) -> None:
    prefix = f"restart-{client_side_cache}"
    watcher = store(own_server, prefix, client_side_cache=client_side_cache)
    store(own_server, prefix).save(chatgpt_record(1))
    before = watcher.fingerprint()
    own_server.restart()  # no persistence: it comes back empty
    store(own_server, prefix).save(chatgpt_record(2))
    assert watcher.fingerprint() != before
    loaded = watcher.load()
    assert loaded is not None
    assert loaded.record == chatgpt_record(2)


def test_close_hangs_up_now_and_a_later_call_connects_again(own_server: RedisServer) -> None:
    cached = store(own_server, "close", client_side_cache=True)
    cached.save(chatgpt_record(1))
    cached.fingerprint()  # a pooled connection, and the cache's listener
    with others_connected(own_server) as others:
        assert len(others()) == 2
        cached.close()
        wait_until(lambda: not others(), WAIT, "Redis to see both connections closed")
        loaded = cached.load()
        assert loaded is not None
        assert loaded.record == chatgpt_record(1)
        assert cached.fingerprint() != 0
        assert len(others()) == 2


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["load", "fingerprint", "save", "delete"])
def test_an_unreachable_redis_is_a_storage_error_naming_it(operation: str) -> None:
    port = free_port()  # nothing listens there
    redis_store = RedisCredentialStore(connect(f"redis://:{PASSWORD}@127.0.0.1:{port}/0"))
    call: dict[str, Callable[[], object]] = {
        "load": redis_store.load,
        "fingerprint": redis_store.fingerprint,
        "save": lambda: redis_store.save(chatgpt_record()),
        "delete": redis_store.delete,
    }
    with pytest.raises(StorageError) as caught:
        call[operation]()
    message = str(caught.value)
    assert message.startswith(f"cannot reach Redis at 127.0.0.1:{port} to ")
    assert "try again" in message
    assert "\n" not in message
    assert PASSWORD not in message
    assert PASSWORD not in repr(redis_store)
    assert isinstance(caught.value.__cause__, redis.ConnectionError)


def test_the_cli_with_redis_unreachable_fails_and_writes_no_file(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "codex"
    env = clean_env(
        home,
        HOME=str(tmp_path),
        CODEX_LOGIN_STORE="redis",
        CODEX_LOGIN_REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
    )
    result = run_in_process("login", "--with-api-key", env=env, stdin=API_KEY)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot reach Redis at 127.0.0.1:{port} to take the lease")
    assert PASSWORD not in result.stderr
    assert list(tmp_path.rglob("auth.json")) == []


# -- the command line ------------------------------------------------------------------------


def redis_env(home: Path, url: str, prefix: str, **extra: str) -> dict[str, str]:
    return clean_env(
        home,
        CODEX_LOGIN_STORE="redis",
        CODEX_LOGIN_REDIS_URL=url,
        CODEX_LOGIN_REDIS_PREFIX=prefix,
        **extra,
    )


def test_the_cli_logs_in_reports_and_hands_out_the_key_through_redis(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str
) -> None:
    env = redis_env(tmp_path / "codex", redis_server.url, redis_prefix)
    login = run_in_process("login", "--with-api-key", env=env, stdin=API_KEY)
    assert (login.returncode, login.stderr) == (0, "Successfully logged in\n")
    assert json.loads(stored_bytes(redis_server, redis_prefix) or b"") == {
        "auth_mode": "apikey",
        "OPENAI_API_KEY": API_KEY,
    }
    status = run_in_process("status", env=env)
    assert status.stderr.splitlines()[0] == "API key configured - sk-test-***56789"
    as_json = json.loads(run_in_process("status", "--json", env=env).stdout)
    location = f"redis://{redis_server.address}/0 key {{{redis_prefix}:default}}:record"
    assert as_json["source"] == location
    assert run_in_process("token", env=env).stdout == f"{API_KEY}\n"
    assert run_in_process("logout", env=env).stderr == "Successfully logged out\n"
    assert stored_bytes(redis_server, redis_prefix) is None
    assert not (tmp_path / "codex").exists()


def test_a_command_run_in_process_hangs_up_when_it_ends(
    tmp_path: Path, own_server: RedisServer
) -> None:
    """``main`` in a longer process closes what the command opened, as an exit would."""
    env = redis_env(tmp_path / "codex", own_server.url, "in-process")
    collecting = gc.isenabled()
    gc.disable()  # the store is in reference cycles: only closing it hangs up at once
    try:
        with others_connected(own_server) as others:
            login = run_in_process("login", "--with-api-key", env=env, stdin=API_KEY)
            assert login.returncode == 0
            assert run_in_process("status", env=env).returncode == 0
            wait_until(lambda: not others(), WAIT, "Redis to see the commands hang up")
    finally:
        if collecting:
            gc.enable()


def test_a_hang_up_that_fails_leaves_the_commands_outcome_as_it_was(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = redis_env(tmp_path / "codex", redis_server.url, redis_prefix)
    assert run_in_process("login", "--with-api-key", env=env, stdin=API_KEY).returncode == 0

    def broken(self: RedisCredentialStore) -> None:
        raise OSError("the socket would not close")

    monkeypatch.setattr(RedisCredentialStore, "close", broken)
    status = run_in_process("status", env=env)
    assert status.returncode == 0
    assert status.stderr.splitlines()[0] == "API key configured - sk-test-***56789"
    assert "Error" not in status.stderr
    assert run_in_process("token", env=env).stdout == f"{API_KEY}\n"


def test_codex_auth_closes_the_store_it_built_and_not_one_it_was_given(
    tmp_path: Path, own_server: RedisServer
) -> None:
    env = redis_env(tmp_path / "codex", own_server.url, "embedded")
    assert run_in_process("login", "--with-api-key", env=env, stdin=API_KEY).returncode == 0
    with others_connected(own_server) as others:
        built = CodexAuth(environ=env)
        assert built.get_token() == API_KEY
        assert others()
        built.close()
        wait_until(lambda: not others(), WAIT, "Redis to see CodexAuth hang up")
        assert built.get_token() == API_KEY  # a later call connects again
        built.close()
        wait_until(lambda: not others(), WAIT, "Redis to see CodexAuth hang up again")

        given = store(own_server, "embedded")
        with CodexAuth(store=given, environ=env) as auth:
            assert auth.get_token() == API_KEY
        before = others()
        assert given.fingerprint() != 0
        assert others() == before  # the same connection answered: it was left open


def test_processes_sharing_redis_send_one_refresh(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, codex_fake_issuer: FakeIssuer
) -> None:
    """SPEC §4 across hosts: the lease is the writer lock, the record is shared."""
    first = codex_fake_issuer.new_refresh_token()
    document = write_login(tmp_path, first, expires_in=timedelta(minutes=-1))
    with contextlib.closing(redis_server.client()) as client:
        client.set(Keys(redis_prefix).record, document)
    (tmp_path / "auth.json").unlink()
    env = issuer_env(tmp_path, codex_fake_issuer)
    env.update(redis_env(tmp_path, redis_server.url, redis_prefix))
    results = run_all("token", count=6, env=env)
    assert [r.stderr for r in results if r.returncode != 0] == []
    shared = json.loads(stored_bytes(redis_server, redis_prefix) or b"")
    assert {r.stdout.strip() for r in results} == {shared["tokens"]["access_token"]}
    assert len(codex_fake_issuer.posts("refresh_token")) == 1
    assert shared["note"] == "kept"
    assert not (tmp_path / "auth.json").exists()


@pytest.mark.parametrize("where", ["url", "REDISCLI_AUTH"])
def test_a_password_protected_redis(tmp_path: Path, locked_server: RedisServer, where: str) -> None:
    bare = f"redis://{locked_server.address}/0"
    if where == "url":
        env = redis_env(tmp_path, locked_server.url, where)
    else:
        env = redis_env(tmp_path, bare, where, REDISCLI_AUTH=PASSWORD)
    login = run_in_process("login", "--with-api-key", env=env, stdin=API_KEY)
    assert login.returncode == 0, login.stderr
    assert run_in_process("token", env=env).stdout == f"{API_KEY}\n"
    status = run_in_process("status", "--json", env=env)
    assert PASSWORD not in status.stdout + status.stderr


@pytest.mark.parametrize("where", ["url", "REDISCLI_AUTH", "none"])
def test_a_wrong_password_is_one_line_without_it(
    tmp_path: Path, locked_server: RedisServer, where: str
) -> None:
    wrong = "not-the-password-at-all"
    bare = f"redis://{locked_server.address}/0"
    env = {
        "url": redis_env(tmp_path, f"redis://:{wrong}@{locked_server.address}/0", "wrong"),
        "REDISCLI_AUTH": redis_env(tmp_path, bare, "wrong", REDISCLI_AUTH=wrong),
        "none": redis_env(tmp_path, bare, "wrong"),
    }[where]
    result = run_in_process("status", env=env)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    if where == "none":  # nothing was refused: nothing was given
        said = "asks for a password and none was given ("
        remedy = "); give it in the URL (redis://:PASSWORD@HOST) or in REDISCLI_AUTH"
    else:
        said, remedy = "refused our credentials (", "); check the user and password"
    assert line.startswith(f"Error checking login status: Redis at {locked_server.address} {said}")
    assert line.endswith(remedy)
    assert wrong not in result.stderr
    assert PASSWORD not in result.stderr


def test_a_user_without_a_permission_the_store_needs_is_told_so(
    tmp_path: Path, own_server: RedisServer
) -> None:
    with contextlib.closing(own_server.client()) as admin:
        admin.acl_setuser(
            "no-scan", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-scan"]
        )
    env = redis_env(tmp_path, f"redis://no-scan:pw@{own_server.address}/0", "perm")
    result = run_in_process("accounts", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: Redis at {own_server.address} refused to list the accounts: its user may not "
        "run a command the store needs ("
    )
    assert result.stderr.endswith("); grant it the commands docs/fleet.md lists\n")


@pytest.mark.slow  # it waits for the socket timeout (5 s), once
def test_a_tls_url_at_a_server_without_tls_says_so_after_one_wait(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """The server takes the connection and waits for a command while we wait for its
    TLS greeting: it was a 'passing outage' after three timeouts (30 s)."""
    env = redis_env(tmp_path, f"rediss://{redis_server.address}/0", "tls")
    result = run_in_process("token", env=env)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: Redis at {redis_server.address} did not answer in time to ")
    assert line.endswith("; if it does not speak TLS on that port, use redis:// (or its TLS port)")


def test_an_unknown_host_is_a_set_up_mistake_not_an_outage(tmp_path: Path) -> None:
    env = redis_env(tmp_path, "redis://no-such-host.invalid:6379/0", "host")
    result = run_in_process("status", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error checking login status: cannot find the Redis host of no-such-host.invalid:6379"
    )
    assert result.stderr.endswith("; check the host name in the URL\n")


def test_the_url_password_beats_rediscli_auth() -> None:
    client = connect("redis://:from-url@127.0.0.1:1/0", password="from-env")
    assert client.connection_pool.connection_kwargs["password"] == "from-url"
    client = connect("redis://alice@127.0.0.1:1/0", password="from-env")
    assert client.connection_pool.connection_kwargs["username"] == "alice"
    assert client.connection_pool.connection_kwargs["password"] == "from-env"


@pytest.mark.parametrize("database", ["O", "abc", "1x"])
def test_a_database_that_is_no_number_is_refused_not_read_as_zero(database: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        connect(f"redis://:secret@127.0.0.1:6379/{database}")
    assert str(raised.value) == (
        f"the Redis URL redis://:***@127.0.0.1:6379/{database} names the database "
        f"{database!r}; a database is a number (redis://HOST:PORT/0)"
    )
    for good in ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/", "redis://h:1"):
        assert connect(good) is not None


def test_a_unix_socket_url(redis_server: RedisServer, redis_prefix: str) -> None:
    redis_store = RedisCredentialStore(
        connect(f"unix://{redis_server.socket}"), prefix=redis_prefix
    )
    redis_store.save(chatgpt_record())
    assert stored_bytes(redis_server, redis_prefix) == auth_json.encode(chatgpt_record())
    assert redis_store.location.startswith(f"unix://{redis_server.socket}?db=0 key {{")


# -- TLS -------------------------------------------------------------------------------------


def tls_files(directory: Path, host: str) -> Tls:
    """A new CA and a server certificate it signed for ``host``, as PEM files."""
    authority = trustme.CA()
    issued = authority.issue_cert(host)
    tls = Tls(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    issued.cert_chain_pems[0].write_to_path(str(tls.cert))
    issued.private_key_pem.write_to_path(str(tls.key))
    authority.cert_pem.write_to_path(str(tls.ca))
    return tls


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    directory = tmp_path_factory.mktemp("tls-redis")
    with running_redis(directory, tls=tls_files(directory, "127.0.0.1")) as server:
        yield server


@pytest.fixture(scope="module")
def wrong_host_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A TLS server whose certificate, from a trusted CA, names another host."""
    directory = tmp_path_factory.mktemp("wrong-host-redis")
    with running_redis(directory, tls=tls_files(directory, "cache.example")) as server:
        yield server


def test_tls_with_the_ca_from_codex_ca_certificate(tmp_path: Path, tls_server: RedisServer) -> None:
    assert tls_server.tls is not None
    env = redis_env(tmp_path, tls_server.url, "tls", CODEX_CA_CERTIFICATE=str(tls_server.tls.ca))
    assert run_in_process("login", "--with-api-key", env=env, stdin=API_KEY).returncode == 0
    assert run_in_process("token", env=env).stdout == f"{API_KEY}\n"


def test_tls_is_verified(tls_server: RedisServer) -> None:
    unknown_ca = trustme.CA()
    with unknown_ca.cert_pem.tempfile() as ca_file:
        redis_store = RedisCredentialStore(connect(tls_server.url, ca_file=ca_file))
        with pytest.raises(StorageError, match=r"certificate verify failed"):
            redis_store.load()


def test_a_url_that_turns_off_tls_verification_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="turns off TLS verification"):
        connect("rediss://127.0.0.1:1/0?ssl_cert_reqs=none")


def test_a_certificate_for_another_host_is_refused(wrong_host_server: RedisServer) -> None:
    assert wrong_host_server.tls is not None
    client = connect(wrong_host_server.url, ca_file=str(wrong_host_server.tls.ca))
    with pytest.raises(StorageError, match=r"certificate verify failed.*127\.0\.0\.1"):
        RedisCredentialStore(client).load()


@pytest.mark.parametrize("off", ["false", "False", "0", "no", "n"])
def test_a_url_cannot_turn_off_the_host_name_check(
    tmp_path: Path, wrong_host_server: RedisServer, off: str
) -> None:
    """The attack: the CA is trusted, the certificate names another host, the URL says
    ``ssl_check_hostname=false``. Nothing may be sent to that server."""
    assert wrong_host_server.tls is not None
    url = f"{wrong_host_server.url}?ssl_check_hostname={off}"
    env = redis_env(tmp_path, url, "tls", CODEX_CA_CERTIFICATE=str(wrong_host_server.tls.ca))
    result = run_in_process("login", "--with-api-key", env=env, stdin=API_KEY)
    assert result.returncode != 0
    assert f"the Redis URL {url} turns off TLS verification; remove it" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    with contextlib.closing(wrong_host_server.client()) as client:
        assert client.dbsize() == 0


@pytest.mark.parametrize(
    "parameter",
    [
        "ssl_ciphers=NULL",
        "ssl_min_version=2",
        "ssl_exclude_verify_flags=VERIFY_X509_STRICT",
        "ssl_include_verify_flags=VERIFY_X509_PARTIAL_CHAIN",
        "ssl_ca_data=-----BEGIN",
        "ssl_password=secret",
        "ssl_validate_ocsp=false",
        "SSL_CHECK_HOSTNAME=false",
        "ssl_check_hostname=true&ssl_verify=none",
    ],
)
def test_a_tls_parameter_outside_the_allow_list_is_refused_by_name(parameter: str) -> None:
    name = parameter.rpartition("&")[2].partition("=")[0]
    with pytest.raises(ConfigurationError, match=f"sets {name}, which codex-login does not accept"):
        connect(f"rediss://127.0.0.1:1/0?{parameter}")


def test_a_refused_parameter_is_named_without_its_value() -> None:
    with pytest.raises(ConfigurationError, match="sets ssl_password") as refused:
        connect("rediss://127.0.0.1:1/0?ssl_password=key-passphrase-0123")
    assert "key-passphrase-0123" not in str(refused.value)


@pytest.mark.parametrize("scheme", ["redis", "unix"])
def test_tls_parameters_without_tls_are_refused(scheme: str) -> None:
    """``redis://...?ssl_ca_certs=...`` reads as TLS to its author; it would be plain text."""
    with pytest.raises(ConfigurationError, match="sets ssl_ca_certs but does not use TLS"):
        connect(f"{scheme}://127.0.0.1:1/0?ssl_ca_certs=/etc/ssl/ca.pem")


def test_the_allowed_tls_parameters_keep_verification(tls_server: RedisServer) -> None:
    """The CA named in the URL and the strict spellings of the two switches are accepted."""
    assert tls_server.tls is not None
    url = (
        f"{tls_server.url}?ssl_ca_certs={tls_server.tls.ca}"
        "&ssl_cert_reqs=required&ssl_check_hostname=true"
    )
    redis_store = RedisCredentialStore(connect(url), prefix="allowed-tls")
    redis_store.save(chatgpt_record())
    assert redis_store.load() is not None


def test_a_plain_tls_url_asks_for_verification_whatever_the_library_defaults() -> None:
    """redis-py before 6.0 did not check the host name unless asked; the client asks
    for both checks itself rather than trusting the installed release's defaults."""
    options = connect("rediss://redis.example.com:6380/0").connection_pool.connection_kwargs
    assert (options["ssl_cert_reqs"], options["ssl_check_hostname"]) == ("required", True)


# -- configuration -----------------------------------------------------------------------------


def test_the_settings_come_from_the_environment() -> None:
    settings = redis_settings_from(
        {
            "CODEX_LOGIN_REDIS_URL": "rediss://cache:6380/1",
            "CODEX_LOGIN_REDIS_PREFIX": "team",
            "REDISCLI_AUTH": PASSWORD,
            "SSL_CERT_FILE": "/etc/ca.pem",
        }
    )
    assert (settings.url, settings.prefix, settings.password, settings.ca_file) == (
        "rediss://cache:6380/1",
        "team",
        PASSWORD,
        "/etc/ca.pem",
    )
    assert PASSWORD not in repr(settings)


def test_the_redis_store_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CODEX_LOGIN_STORE=redis needs CODEX_LOGIN_REDIS"):
        make_store("redis", tmp_path, environ={})


def test_make_store_builds_the_redis_store(tmp_path: Path, redis_server: RedisServer) -> None:
    environ = {"CODEX_LOGIN_REDIS_URL": redis_server.url, "CODEX_LOGIN_REDIS_PREFIX": "made"}
    made, notice = make_store("redis", tmp_path, environ=environ)
    assert notice is None
    assert made.location == f"redis://{redis_server.address}/0 key {{made:default}}:record"


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b"])
def test_a_prefix_that_would_break_the_hash_tag_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="must be non-empty, without braces"):
        Keys(prefix)


def test_without_the_redis_package_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    for module in [name for name in sys.modules if name.startswith("codex_login.adapters.redis")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.delattr(codex_login.adapters, "redis")
    environ = {"CODEX_LOGIN_REDIS_URL": "redis://127.0.0.1:1/0"}
    with pytest.raises(ConfigurationError) as caught:
        make_store("redis", tmp_path, environ=environ)
    assert str(caught.value) == (
        "the redis store needs the redis package, which is not installed; install it with: "
        "pip install 'codex-login[redis]' (from a checkout: pip install '.[redis]'), or use "
        "CODEX_LOGIN_STORE=file"
    )
    assert isinstance(caught.value.__cause__, ImportError)
