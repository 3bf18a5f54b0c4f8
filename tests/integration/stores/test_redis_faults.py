"""The Redis store when things go wrong: killed and paused lease holders, a restart, no server.

The lease holder of the first two tests is a child Python process running the
library on a Redis store whose ``save()`` first tells this process (through a
pipe) that the issuer has answered, then waits for a go-ahead on a second pipe:
the test kills or pauses it exactly between the issuer's answer and the commit.
Its lease is short (``lease_ttl`` of the store's constructor), so the test sees
it expire instead of waiting 30 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from codex_login.adapters.redis.config import Keys, connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.domain.errors import MalformedCredentials
from codex_login.testing.issuer import Failure, FakeIssuer
from support.cli import CLI, clean_env, run_cli
from support.logins import write_login
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    free_port,
    redis_prefix_fixture,
    redis_server_fixture,
    running_redis,
)
from support.waiting import wait_until

pytestmark = pytest.mark.slow

EXPIRED = timedelta(minutes=-1)
LEASE_TTL = 1.0  # the holder's lease, in seconds
WAIT = 30.0  # the bound on every wait for a condition
LOGIN_NEEDED = 4  # `token`'s exit status when a person must log in (SPEC §5)
API_KEY = "sk-test-redis-faults-0123456789"

# The lease holder. argv: Redis URL, key prefix, issuer URL, lease TTL, the fd it
# signals on, the fd it waits on, where it holds: "commit" (the issuer has answered,
# the commit is next) or "read" (it read the record under its lease, the refresh
# request is next). It prints one JSON line: the token, or the error.
HOLDER = r"""
import asyncio, contextlib, json, os, sys
from codex_login.adapters.redis.config import connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.entrypoints.bootstrap import bootstrap

url, prefix, issuer, ttl, signal_fd, go_fd, where = sys.argv[1:8]

class Holds:
    def __init__(self, inner):
        self.inner = inner
        self.locked = False
        self.held = False
    def hold(self, here):
        if here == where and not self.held:  # once: a refused commit is tried again
            self.held = True
            os.write(int(signal_fd), b"!")
            os.read(int(go_fd), 1)
    @property
    def location(self):
        return self.inner.location
    def load(self):
        loaded = self.inner.load()
        if self.locked:
            self.hold("read")
        return loaded
    def fingerprint(self):
        return self.inner.fingerprint()
    def confirm_exclusive(self):
        return self.inner.confirm_exclusive()
    def delete(self):
        return self.inner.delete()
    @contextlib.contextmanager
    def exclusive(self):
        with self.inner.exclusive():
            self.locked = True
            try:
                yield
            finally:
                self.locked = False
    def save(self, record):
        self.hold("commit")
        self.inner.save(record)

store = RedisCredentialStore(connect(url), prefix=prefix, lease_ttl=float(ttl))
service = bootstrap(store=Holds(store), issuer=issuer, environ={})
try:
    print(json.dumps({"token": asyncio.run(service.get_token())}), flush=True)
except Exception as exc:
    cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else None
    print(json.dumps({"error": type(exc).__name__, "cause": cause, "message": str(exc)}))
    sys.exit(1)
"""


@attrs.define
class Redis:
    """One login in one Redis, for the processes of one test."""

    root: Path
    server: RedisServer
    prefix: str
    issuer: FakeIssuer

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    def env(self, index: int = 0) -> dict[str, str]:
        """The environment of the ``index``-th process: its own empty CODEX_HOME."""
        return clean_env(
            self.root / f"home-{index}",
            CODEX_LOGIN_ISSUER=self.issuer.url,
            CODEX_LOGIN_STORE="redis",
            CODEX_LOGIN_REDIS_URL=self.server.url,
            CODEX_LOGIN_REDIS_PREFIX=self.prefix,
        )

    def put_expired_login(self, refresh_token: str) -> bytes:
        data = write_login(self.root / "staging", refresh_token, expires_in=EXPIRED)
        (self.root / "staging" / "auth.json").unlink()
        with contextlib.closing(self.server.client()) as client:
            client.set(self.keys.record, data)
        return data

    def get(self, key: str) -> bytes | None:
        with contextlib.closing(self.server.client()) as client:
            value = client.get(key)
        assert value is None or isinstance(value, bytes)
        return value

    def record(self) -> bytes | None:
        return self.get(self.keys.record)

    def lease_held(self) -> bool:
        return self.get(self.keys.lock) is not None

    def assert_readable(self) -> Any:
        """The stored record decodes (nothing torn); its document, or None when gone."""
        client = connect(self.server.url)
        try:
            loaded = RedisCredentialStore(client, prefix=self.prefix).load()
        except MalformedCredentials as exc:
            raise AssertionError(f"the stored record is torn: {exc}") from exc
        finally:
            client.close()
        data = self.record()
        assert (loaded is None) == (data is None)
        return None if data is None else json.loads(data)


@pytest.fixture
def shared(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, codex_fake_issuer: FakeIssuer
) -> Redis:
    return Redis(tmp_path, redis_server, redis_prefix, codex_fake_issuer)


@attrs.define
class Holder:
    """The lease holder child process and its two pipes."""

    process: subprocess.Popen[str]
    signalled: int  # read end: a byte once it holds where it was told to
    go: int  # write end: a byte lets it go on

    def wait_until_held(self) -> None:
        """Return once the holder stopped where it was told to (it signalled)."""
        ready, _, _ = select.select([self.signalled], [], [], WAIT)
        if not ready or os.read(self.signalled, 1) != b"!":
            out, err = self.process.communicate(timeout=WAIT) if ready else ("", "")
            self.stop()
            raise AssertionError(f"the holder never got where it holds:\n{out}{err}")

    def pause(self) -> None:
        """SIGSTOP it, and return once every thread of it has really stopped.

        The stop takes effect asynchronously: letting it go on before it has would let
        it run on (and commit) before the test is ready.
        """
        os.kill(self.process.pid, signal.SIGSTOP)
        wait_until(lambda: _state(self.process.pid) == "T", WAIT, "the holder to stop")

    def let_it_go_on(self) -> None:
        os.write(self.go, b"g")

    def outcome(self) -> dict[str, Any]:
        out, err = self.process.communicate(timeout=WAIT)
        assert "Traceback" not in err, err
        result: dict[str, Any] = json.loads(out)
        return result

    def stop(self) -> None:
        """Kill it by its PID if it still runs (continued first, in case it is stopped)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
        self.process.communicate(timeout=WAIT)


def _state(pid: int) -> str:
    """The process state letter from /proc (T: stopped), checked for every thread."""
    states = {
        (Path(f"/proc/{pid}/task") / task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        for task in os.listdir(f"/proc/{pid}/task")
    }
    return "T" if states == {"T"} else "running"


@contextlib.contextmanager
def lease_holder(shared: Redis, where: str = "commit") -> Iterator[Holder]:
    """The holder child, which stops ``where`` ("commit" or "read") until let go."""
    signalled_r, signalled_w = os.pipe()
    go_r, go_w = os.pipe()
    args = [shared.server.url, shared.prefix, shared.issuer.url, str(LEASE_TTL)]
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, *args, str(signalled_w), str(go_r), where],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(shared.root / "holder-home"),
            text=True,
            pass_fds=(signalled_w, go_r),
        )
    finally:
        os.close(signalled_w)  # the child's copies stay open: EOF here once it is gone
        os.close(go_r)
    holder = Holder(process, signalled_r, go_w)
    try:
        yield holder
    finally:
        holder.stop()
        os.close(signalled_r)
        os.close(go_w)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a failed command said, without the notices of a wait for the lease."""
    return [line for line in result.stderr.splitlines() if not line.startswith("Waiting for ")]


# -- a holder killed between the issuer's answer and its commit -----------------------------


def test_a_holder_killed_before_its_commit_ends_the_session_cleanly(shared: Redis) -> None:
    """The killed holder spent the refresh token at the issuer, and its new tokens died
    with it. The lease expires; the survivor then posts the stored (spent) refresh token,
    which the issuer refuses as reused: a clear "log in again", the record untouched."""
    issuer = shared.issuer
    first = issuer.new_refresh_token()
    before = shared.put_expired_login(first)
    with lease_holder(shared) as holder:
        holder.wait_until_held()
        assert len(issuer.posts("refresh_token")) == 1
        assert not issuer.refresh_token_works(first)  # spent by the holder
        assert shared.lease_held()
        os.kill(holder.process.pid, signal.SIGKILL)
        assert holder.process.wait(WAIT) == -signal.SIGKILL
    assert shared.record() == before  # it died before writing anything
    started = time.monotonic()
    survivor = run_cli("token", env=shared.env(1), timeout=WAIT)
    took = time.monotonic() - started
    assert (survivor.returncode, survivor.stdout) == (LOGIN_NEEDED, ""), survivor.stderr
    [line] = error_lines(survivor)
    assert "already used, probably by another program" in line
    assert line.endswith("run `codex-login login` to sign in again")
    assert took < LEASE_TTL + 10  # it waited for the expiry, not for its lock timeout
    assert len(issuer.posts("refresh_token")) == 2
    assert shared.record() == before  # intact, byte for byte
    assert shared.assert_readable()["tokens"]["refresh_token"] == first
    assert not shared.lease_held()  # the survivor released its lease
    assert [p for p in shared.root.rglob("*") if p.is_file()] == []


# -- a holder paused past its lease while another process refreshes --------------------------


def test_a_holder_paused_past_its_lease_cannot_overwrite_the_newer_record(shared: Redis) -> None:
    """The holder is stopped (SIGSTOP: its lease renewal stops too) between the issuer's
    answer and its commit; its lease expires, another process refreshes and commits, then
    the holder continues: the fenced commit is refused and the newer record stays.

    The issuer's answer to the holder is scripted (tokens of another grant), so that the
    refresh token the survivor posts is still live: single-use tokens would otherwise end
    the session before any commit, as the test above shows. This one is about the commit.
    """
    issuer = shared.issuer
    first = issuer.new_refresh_token()
    shared.put_expired_login(first)
    scripted = {
        **issuer.issue_tokens(issuer.new_refresh_token()),
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    issuer.refresh_failure = Failure(200, json.dumps(scripted), times=1)
    with lease_holder(shared) as holder:
        holder.wait_until_held()
        holder.pause()
        holder.let_it_go_on()  # read only once it runs again
        wait_until(lambda: not shared.lease_held(), WAIT, "the paused holder's lease to expire")
        survivor = run_cli("token", env=shared.env(1), timeout=WAIT)
        assert survivor.returncode == 0, survivor.stderr
        committed = shared.record()
        assert committed is not None
        assert survivor.stdout.strip() == json.loads(committed)["tokens"]["access_token"]
        os.kill(holder.process.pid, signal.SIGCONT)
        outcome = holder.outcome()

    assert holder.process.returncode == 1
    assert outcome["error"] == "LeaseLost"  # not retried: another writer's record stands
    assert outcome["cause"] == "LeaseLost"
    assert (
        f"nothing was written to {{{shared.prefix}:default}}:record: another writer "
        "committed a newer record since this one was read"
    ) in outcome["message"]
    assert outcome["message"].endswith(
        "these tokens were dropped; the refresh token they replaced is spent, so a login "
        "that still holds it (an account kept aside, say) must sign in again"
    )  # not "its login stands": the newer record may be another login
    assert "\n" not in outcome["message"]
    assert shared.record() == committed  # the survivor's record, byte for byte
    document = shared.assert_readable()
    assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
    assert len(issuer.posts("refresh_token")) == 2  # the holder's and the survivor's


def test_a_holder_paused_before_its_request_does_not_spend_the_rotated_token(
    shared: Redis,
) -> None:
    """The holder is stopped after reading the record under its lease, before its refresh
    request; its lease expires, another process refreshes and commits, then the holder
    continues. SPEC §4/§6: one refresh request, the session alive: the holder confirms
    its lease before sending and finds it gone, so it sends nothing."""
    issuer = shared.issuer
    first = issuer.new_refresh_token()
    shared.put_expired_login(first)
    with lease_holder(shared, "read") as holder:
        holder.wait_until_held()
        assert issuer.posts("refresh_token") == []
        holder.pause()
        holder.let_it_go_on()
        wait_until(lambda: not shared.lease_held(), WAIT, "the paused holder's lease to expire")
        survivor = run_cli("token", env=shared.env(1), timeout=WAIT)
        assert survivor.returncode == 0, survivor.stderr
        committed = shared.record()
        assert committed is not None
        os.kill(holder.process.pid, signal.SIGCONT)
        outcome = holder.outcome()
    print(f"\nthe resumed holder: {outcome}")
    assert shared.record() == committed  # fencing holds either way
    document = shared.assert_readable()
    assert issuer.refresh_token_works(document["tokens"]["refresh_token"]), "session ended"
    assert [p.fields["refresh_token"] for p in issuer.posts("refresh_token")] == [first]


# -- redis-server restarted during a storm ------------------------------------------------------


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of this module's own: these tests restart it."""
    with running_redis(tmp_path_factory.mktemp("restarted-redis")) as server:
        yield server


def connected_clients(server: RedisServer) -> int:
    """Clients connected to ``server``, besides the one asking."""
    with contextlib.closing(server.client()) as client:
        count: int = client.info("clients")["connected_clients"]
    return count - 1


# How a `token` of the storm may fail, by the start of its one line: its exit status.
CLEAR_FAILURES = {
    "Error: cannot reach Redis at {address} to ": 1,  # the restart cut it off
    # it came back empty
    "Error: not logged in: looked for CODEX_API_KEY, redis://{address}/": LOGIN_NEEDED,
    "Error: the issuer sent new tokens but they could not be saved (": 1,  # Redis gone
    "Error: the issuer sent new tokens but they were not saved (": 1,  # lease gone
}


def test_a_restart_during_a_storm_fails_cleanly_and_then_recovers(
    tmp_path: Path, own_server: RedisServer, codex_fake_issuer: FakeIssuer
) -> None:
    """The server runs without persistence: every process either succeeds or says one
    clear line, nothing is torn, the login is either gone or holds the live refreshed
    tokens, and afterwards a new login works."""
    shared = Redis(tmp_path, own_server, "restart-storm", codex_fake_issuer)
    issuer = shared.issuer
    shared.put_expired_login(issuer.new_refresh_token())
    gate = threading.Event()  # holds the issuer's answer to the lease holder
    issuer.gates["refresh"] = gate
    count = 16
    children = [
        subprocess.Popen(
            [str(CLI), "token"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=shared.env(index),
            text=True,
        )
        for index in range(count)
    ]
    try:
        # Every process is in the storm: one holds the lease (its refresh held at the
        # issuer), the others wait for it, each connected to Redis.
        wait_until(lambda: len(issuer.posts("refresh_token")) == 1, WAIT, "the refresh request")
        wait_until(lambda: connected_clients(own_server) >= count, WAIT, "all 16 to connect")
        own_server.restart()
        gate.set()
        results = [child.communicate(timeout=WAIT) for child in children]
    finally:
        gate.set()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    said: dict[str, int] = {}
    examples: dict[str, str] = {}
    for child, (out, err) in zip(children, results, strict=True):
        assert "Traceback" not in err, err
        if child.returncode == 0:
            said["success"] = said.get("success", 0) + 1
            continue
        lines = [line for line in err.splitlines() if not line.startswith("Waiting for ")]
        assert len(lines) == 1, err
        assert out == ""
        kinds = [
            start
            for start in CLEAR_FAILURES
            if lines[0].startswith(start.format(address=own_server.address))
        ]
        assert kinds, f"not a clear failure: {lines[0]}"
        kind = kinds[0]
        assert child.returncode == CLEAR_FAILURES[kind], err
        said[kind] = said.get(kind, 0) + 1
        examples.setdefault(kind, lines[0])
    print(f"\nrestart during a storm of {count}: {said}")
    for example in examples.values():
        print(f"  e.g. {example}")
    assert len(issuer.posts("refresh_token")) == 1
    # Nothing torn. The restarted server is empty, so either the login is gone or the
    # lease holder's commit (its lease gone with the restart, nobody else writing)
    # saved the refreshed tokens, which must then be the live ones.
    document = shared.assert_readable()
    status = run_cli("status", env=shared.env(0))
    if document is None:
        assert (status.returncode, status.stderr) == (1, "Not logged in\n")
    else:
        assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
        assert status.stderr.startswith("Logged in using ChatGPT\n")
    login = run_cli("login", "--with-api-key", env=shared.env(0), stdin=API_KEY)
    assert login.returncode == 0, login.stderr
    assert run_cli("token", env=shared.env(1)).stdout == f"{API_KEY}\n"
    stored = json.loads(shared.record() or b"")
    assert (stored["auth_mode"], stored["OPENAI_API_KEY"]) == ("apikey", API_KEY)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# -- Redis unreachable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        (("token",), "Error: cannot reach Redis at "),
        (("status",), "Error checking login status: cannot reach Redis at "),
        (("login", "--with-api-key"), "Error: cannot reach Redis at "),
    ],
)
def test_an_unreachable_redis_is_one_line_naming_it_and_writes_no_file(
    tmp_path: Path, command: tuple[str, ...], prefix: str
) -> None:
    port = free_port()  # nothing listens there
    home = tmp_path / "codex"
    env = clean_env(
        home,
        HOME=str(tmp_path),
        CODEX_LOGIN_STORE="redis",
        CODEX_LOGIN_REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    result = run_cli(*command, env=env, stdin=API_KEY, timeout=WAIT)
    assert (result.returncode, result.stdout) == (1, "")
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{prefix}127.0.0.1:{port} to "), line
    assert line.endswith("it may be a passing outage: try again"), line
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# -- new tokens the store refuses for a while -----------------------------------------------


def test_token_keeps_trying_to_save_new_tokens_while_redis_refuses_writes(
    tmp_path: Path, codex_fake_issuer: FakeIssuer
) -> None:
    """The issuer has rotated the refresh token; Redis refuses writes for a moment (no
    replica, here): `token` used to end at once and lose the only live tokens. It says so
    and tries again until the store takes them."""
    issuer = codex_fake_issuer
    with running_redis(tmp_path / "redis") as server:
        shared = Redis(tmp_path, server, "patience", issuer)
        shared.put_expired_login(issuer.new_refresh_token())
        issuer.gates["refresh"] = answer = threading.Event()
        child = subprocess.Popen(
            [str(CLI), "token"],
            env=shared.env(0),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: issuer.posts("refresh_token"), WAIT, "the refresh request")
            with contextlib.closing(server.client()) as admin:
                admin.config_set("min-replicas-to-write", 1)  # every write refused
                answer.set()  # the new tokens go to a process that cannot save them
                said = child.stderr.readline() if child.stderr else ""
                # Refused on, until a later try has failed too (its lease, its save).
                refused = refusals(admin)
                wait_until(lambda: refusals(admin) >= refused + 2, WAIT, "a second try")
                admin.config_set("min-replicas-to-write", 0)
            out, rest = child.communicate(timeout=WAIT)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        stored = json.loads(shared.record() or b"")
    assert said.startswith("the issuer sent new tokens but they could not be saved ("), said
    assert said.endswith(
        "; trying to save them for up to 30 s (Ctrl-C gives up, and they are lost)\n"
    ), said
    assert child.returncode == 0, said + rest
    assert "Waiting for the lease" not in rest  # its own lease, not given back, is taken again
    assert out.strip() == stored["tokens"]["access_token"]
    assert issuer.refresh_token_works(stored["tokens"]["refresh_token"])
    assert len(issuer.posts("refresh_token")) == 1  # saved, not refreshed again


def refusals(admin: Any) -> int:
    """How many commands the server has answered with an error so far."""
    count: int = admin.info("stats")["total_error_replies"]
    return count
