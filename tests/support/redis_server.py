"""A real ``redis-server`` for tests: a free loopback port, a private directory, no disk.

Tests that need it take the ``redis_server`` fixture (import ``redis_server_fixture``
from here into the test module), or start their own with ``start_redis`` (a password,
a restart). Without ``redis-server`` they skip, saying so; in CI that skip is a
failure (tests/conftest.py), since CI installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import redis

from support.waiting import wait_until

MISSING = "redis-server is not installed (apt-get install redis-server)"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class Tls:
    """A certificate for the server (PEM files) and the CA that signed it."""

    cert: Path
    key: Path
    ca: Path


@attrs.define
class RedisServer:
    """One redis-server process; ``restart`` brings it back on the same port.

    With ``tls`` it listens on ``port`` with TLS only (rediss://).
    """

    directory: Path
    port: int
    password: str | None = attrs.field(default=None, repr=False)
    tls: Tls | None = None
    process: subprocess.Popen[bytes] | None = attrs.field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def socket(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        """The URL to connect with, the password in it when there is one."""
        auth = f":{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}{self.address}/0"

    def client(self, **options: object) -> redis.Redis:
        """A client for the test's own look and setup; with TLS it takes the Unix socket
        (never TLS), so a server whose certificate is wrong on purpose can be read."""
        if self.tls:
            return redis.Redis(unix_socket_path=str(self.socket), password=self.password, **options)  # type: ignore[arg-type]
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            **options,  # type: ignore[arg-type]
        )

    def start(self) -> None:
        command = [
            _executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
            "--unixsocket", str(self.socket), "--unixsocketperm", "700",
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        if self.tls:
            command += [
                "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no",
            ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self._wait_until_ready()

    def stop(self) -> None:
        """Stop the server by its PID; return once it has exited."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        with contextlib.closing(self.client()) as client:
            client.flushall()

    def _wait_until_ready(self) -> None:
        """Until the server answers PING; its exit, or the deadline, is an error."""
        with contextlib.closing(self.client(socket_timeout=1, socket_connect_timeout=1)) as probe:

            def answers() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self._log_tail()}")
                with contextlib.suppress(redis.ConnectionError):
                    return bool(probe.ping())
                return False

            try:
                wait_until(
                    answers,
                    START_TIMEOUT,
                    "redis-server to answer PING",
                    poll=0.02,
                    error=lambda said: RuntimeError(f"{said}: {self._log_tail()}"),
                )
            except RuntimeError:
                self.stop()  # nothing when it has exited already
                raise

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "redis.log").read_text()[-2000:]
        return "(no log)"


def _executable() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip(MISSING)
    return found


def start_redis(
    directory: Path, *, password: str | None = None, tls: Tls | None = None
) -> RedisServer:
    """A started server on a free port; a port taken meanwhile is replaced by another."""
    _executable()
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(PORT_ATTEMPTS):
        server = RedisServer(directory, free_port(), password, tls)
        try:
            server.start()
        except RuntimeError:
            if attempt == PORT_ATTEMPTS - 1:
                raise
            continue
        return server
    raise AssertionError("unreachable")


@contextlib.contextmanager
def running_redis(
    directory: Path, *, password: str | None = None, tls: Tls | None = None
) -> Iterator[RedisServer]:
    server = start_redis(directory, password=password, tls=tls)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", name="redis_server")
def redis_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the session; tests keep apart by using their own key prefix."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(name="redis_prefix")
def redis_prefix_fixture(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test's own."""
    return f"test-{os.getpid()}-{request.node.name}"[:200].replace("{", "(").replace("}", ")")
