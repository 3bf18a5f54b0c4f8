"""The token broker (``codex-login serve``) in tests: a real child process, or in-process.

    with running_broker(home, "--allow-uid", "65534", env=issuer_env(home, issuer)) as broker:
        answer = unix_request(broker.socket)
        assert answer.status == 200
        broker.wait_for_line(lambda line: " 200 " in line)

``running_broker`` starts ``codex-login serve`` for a CODEX_HOME with extra arguments,
waits until its stderr says "Serving access tokens on", yields it and stops it with
SIGTERM (only the PID it started; SIGKILL if it lingers). A thread drains its stderr,
so the access log never fills the pipe. ``broker_in_thread`` runs the ``Broker`` class
on an event loop of its own, for limits the command line does not expose.

The request helpers speak plain ``http.client`` (or raw bytes) over a Unix socket or
loopback TCP; every one has a timeout.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import attrs

from codex_login.application.service import AuthService
from codex_login.entrypoints.broker import Access, Broker, Limits, tcp_listener, unix_listener
from codex_login.entrypoints.proxy.observer import ProxyObserver
from support.cli import CLI, clean_env
from support.servers import loop_in_thread, run_in

READY = "Serving access tokens on"
# Run as another user with the system Python: one GET /v1/token on the socket given
# as argv[1], its raw answer printed (no project import: that user cannot read the venv).
PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("utf-8", "replace"))
"""

_WHERE = re.compile(r"(unix:[^,\s]+|http://[^,\s]+)")


# -- a child process -------------------------------------------------------------------


class ServedBroker:
    """A running ``codex-login serve`` child; its stderr is collected line by line."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.socket: Path | None = None
        self.url: str | None = None
        self._lines: list[str] = []
        self._condition = threading.Condition()
        self._closed = False
        assert process.stderr is not None
        self._reader = threading.Thread(
            target=self._read, args=(process.stderr,), name="broker-stderr", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        assert self.url is not None, "the broker does not listen on TCP"
        return int(self.url.rsplit(":", 1)[1])

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._condition:
                self._lines.append(line)
                self._condition.notify_all()
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def lines(self) -> list[str]:
        """What it printed on stderr so far, a copy."""
        with self._condition:
            return list(self._lines)

    def stderr(self) -> str:
        return "\n".join(self.lines())

    def wait_for_lines(
        self, predicate: Callable[[str], bool], count: int = 1, timeout: float = 10.0
    ) -> list[str]:
        """Wait until ``count`` stderr lines match; all that match, in order."""
        with self._condition:
            self._condition.wait_for(
                lambda: sum(map(predicate, self._lines)) >= count or self._closed, timeout
            )
            matching = [line for line in self._lines if predicate(line)]
        if len(matching) < count:
            raise TimeoutError(
                f"{len(matching)} of {count} expected broker lines within {timeout:g} s; "
                f"it printed:\n{self.stderr()[-4000:]}"
            )
        return matching

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        return self.wait_for_lines(predicate, 1, timeout)[0]

    def wait_ready(self, timeout: float) -> None:
        try:
            line = self.wait_for_line(lambda line: line.startswith(READY), timeout)
        except TimeoutError:
            exited = self.process.poll()
            self.kill()
            raise AssertionError(
                f"the broker did not start (exit {exited}):\n{self.stderr()}"
            ) from None
        for where in _WHERE.findall(line):
            if where.startswith("unix:"):
                self.socket = Path(where.removeprefix("unix:"))
            else:
                self.url = where

    def send(self, signum: int) -> None:
        """Send ``signum`` to this child (its PID only), if it still runs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal it and wait for it to exit; its exit code. Killed if it lingers."""
        self.send(signum)
        return self.exit_code(timeout, signum)

    def exit_code(self, timeout: float = 15.0, signum: int | None = None) -> int:
        """Wait for it to exit (already told to: no signal sent); its exit code. Killed if
        it lingers."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the broker did not exit within {timeout:g} s (signal {signum}):\n"
                f"{self.stderr()[-4000:]}"
            ) from None
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self._reader.join(timeout=10)

    def close(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) if it runs; close its pipes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def start_broker(
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    pass_fds: Sequence[int] = (),
    timeout: float = 30.0,
) -> ServedBroker:
    """Start ``codex-login serve ARGS`` for ``home`` and wait until it serves.

    ``argv`` replaces the command before ``serve`` (a wrapper that execs the CLI).
    """
    command = [*(argv if argv is not None else [str(CLI)]), "serve", *args]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else clean_env(home),
        pass_fds=tuple(pass_fds),
    )
    broker = ServedBroker(process)
    try:
        broker.wait_ready(timeout)
    except BaseException:
        broker.close()
        raise
    return broker


@contextmanager
def running_broker(
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    pass_fds: Sequence[int] = (),
    timeout: float = 30.0,
) -> Iterator[ServedBroker]:
    """``start_broker`` for a ``with`` block; stopped with SIGTERM at its end."""
    broker = start_broker(home, *args, env=env, argv=argv, pass_fds=pass_fds, timeout=timeout)
    try:
        yield broker
    finally:
        broker.close()


# -- in-process ------------------------------------------------------------------------


@attrs.define
class ThreadBroker:
    """A ``Broker`` served from a thread's event loop; ``log`` is its access log."""

    socket: Path
    broker: Broker
    loop: asyncio.AbstractEventLoop
    log: list[str]
    port: int | None = None  # loopback TCP, when asked for


@contextmanager
def broker_in_thread(
    service: AuthService,
    path: Path,
    *,
    limits: Limits | None = None,
    access: Access | None = None,
    upstream: str | None = None,
    proxy_observer: ProxyObserver | None = None,
    tcp: bool = False,
    upstream_ca_file: str | None = None,
) -> Iterator[ThreadBroker]:
    """Serve ``service`` on a Unix socket at ``path`` until the block ends (``upstream``:
    where the proxy forwards, as ``--upstream``; ``tcp``: also on a free loopback port,
    for clients with ``access.secret``)."""
    log: list[str] = []
    broker = Broker(
        service,
        access=access,
        limits=limits,
        access_log=log.append,
        upstream=upstream,
        proxy_observer=proxy_observer,
        upstream_ca_file=upstream_ca_file,
    )
    listeners = [unix_listener(path)]
    if tcp:
        listeners.append(tcp_listener(0))
    port = listeners[-1].getsockname()[1] if tcp else None
    try:
        with loop_in_thread("broker") as loop:
            run_in(loop, broker.start(listeners))
            try:
                yield ThreadBroker(path, broker, loop, log, port)
            finally:
                run_in(loop, broker.stop(), timeout=60)
    finally:
        for listener in listeners:
            listener.close()
        with suppress(FileNotFoundError):
            path.unlink()


# -- clients ---------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a Unix socket."""

    def __init__(self, path: Path | str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


@attrs.frozen
class Answer:
    """A complete HTTP answer (its body was read to the end of Content-Length)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[0] if found else None

    def json(self) -> Any:
        return json.loads(self.body)

    def raw(self) -> str:
        """Headers and body as text, to look for secrets in."""
        head = "\n".join(f"{key}: {value}" for key, value in self.headers)
        return f"{head}\n\n{self.body.decode('utf-8', 'replace')}"


def request_on(
    connection: http.client.HTTPConnection,
    method: str = "GET",
    target: str = "/v1/token",
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    connection.request(method, target, body=body, headers=dict(headers or {}))
    response = connection.getresponse()
    data = response.read()
    return Answer(response.status, response.getheaders(), data)


def unix_request(
    path: Path | str,
    method: str = "GET",
    target: str = "/v1/token",
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request on a new connection to the Unix socket at ``path``."""
    connection = UnixHTTPConnection(path, timeout)
    try:
        return request_on(connection, method, target, body=body, headers=headers)
    finally:
        connection.close()


def tcp_request(
    port: int,
    method: str = "GET",
    target: str = "/v1/token",
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request on a new connection to 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return request_on(connection, method, target, body=body, headers=headers)
    finally:
        connection.close()


def storm(path: Path, count: int, timeout: float = 60.0) -> list[tuple[int, str]]:
    """``count`` threads released at once, each one GET /v1/token on its own connection.

    Each gives (status, access token); a failed request gives (0, what went wrong).
    """
    barrier = threading.Barrier(count)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            barrier.wait(timeout)
            answer = unix_request(path, timeout=timeout)
            token = answer.json().get("access_token", "") if answer.status == 200 else ""
            result = (answer.status, str(token))
        except (
            OSError,
            http.client.HTTPException,
            ValueError,
            threading.BrokenBarrierError,
        ) as exc:
            result = (0, f"{type(exc).__name__}: {exc}")
        with lock:
            results.append(result)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2 * timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a storm client hung"
    return results


Address = Path | tuple[str, int]


def connect(address: Address, timeout: float = 10.0) -> socket.socket:
    """A connected stream socket to a Unix socket path or a loopback (host, port)."""
    family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(address) if isinstance(address, Path) else address)
    except BaseException:
        sock.close()
        raise
    return sock


def read_to_end(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the peer sends until it closes (a reset counts as closing)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def exchange(address: Address, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, half-close, and read what comes back until the broker closes.

    A hang raises TimeoutError (socket timeout).
    """
    with connect(address, timeout) as sock:
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def answer_on(sock: socket.socket, method: str = "GET") -> Answer | None:
    """The next HTTP answer on ``sock``, framed by its headers; None if it closed first.

    ``method``: the request's (the answer to HEAD has no body).
    """
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        body = response.read()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        response.close()
    return Answer(response.status, response.getheaders(), body)


def send_raw(address: Address, data: bytes, timeout: float = 10.0) -> Answer | None:
    """Send raw bytes on a new connection and read one answer (None: closed unanswered).

    A hang raises TimeoutError.
    """
    with connect(address, timeout) as sock:
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return answer_on(sock, method_of(data))


def method_of(data: bytes) -> str:
    """The method a raw request starts with, as ``http.client`` needs it to frame the answer."""
    return "HEAD" if data.startswith(b"HEAD ") else "GET"


def status_of(reply: bytes) -> int | None:
    """The status code of a raw HTTP answer, or None when there was none."""
    found = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return int(found.group(1)) if found else None


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def fd_count(pid: int) -> int:
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    """The process's resident memory, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
