"""Hostile clients against one running token broker (SPEC §8: bounded sizes and connections).

One ``codex-login serve`` (Unix socket and loopback TCP with a secret) takes a corpus:
oversized request lines, headers and bodies, path tricks, 10,000 junk requests and
slow clients. Each test then checks that the broker still answers a normal request
quickly, that its file descriptors return near the count before the abuse (the
clients are gone) and that its memory did not balloon, and that its stderr holds no
traceback and no secret. The deadline for a first request and the connection cap are
tested on the ``Broker`` class in-process, with limits the command line does not take.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path

import attrs
import pytest

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Limits
from support.broker import (
    Address,
    Answer,
    ServedBroker,
    UnixHTTPConnection,
    answer_on,
    broker_in_thread,
    connect,
    fd_count,
    free_port,
    method_of,
    request_on,
    rss_kib,
    send_raw,
    start_broker,
    tcp_request,
    unix_request,
)
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import issuer_env, stored, write_login
from support.waiting import wait_until

pytestmark = pytest.mark.slow

JUNK_REQUESTS = 10_000
JUNK_WORKERS = 16
JUNK_SECONDS = 300  # the whole corpus, on a small shared machine
QUICK = 2.0  # seconds for a normal request after the abuse
FD_SLACK = 3
RSS_GROWTH_KIB = 64 * 1024
CLI_FIRST_REQUEST_DEADLINE = Limits().first_request_deadline  # what `serve` uses


@attrs.define
class Served:
    """The broker every test here abuses, and what it looked like before."""

    broker: ServedBroker
    home: Path
    secret: str
    socket: Path
    port: int
    idle_fds: int
    idle_rss_kib: int

    @property
    def tcp(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def token(self) -> str:
        value: str = stored(self.home)["tokens"]["access_token"]
        return value

    def secrets(self) -> list[str]:
        tokens = stored(self.home)["tokens"]
        return [self.secret, tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("hostile")
    home = root / "codex"
    home.mkdir(mode=0o700)
    secret_file = root / "broker.secret"
    secret = secrets.token_urlsafe(32)
    secret_file.write_text(secret)
    secret_file.chmod(0o600)  # the broker refuses a secret file others can read
    port = free_port()
    with running_issuer(FakeIssuer()) as issuer:
        write_login(
            home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url
        )
        broker = start_broker(
            home,
            "--tcp",
            str(port),
            "--secret-file",
            str(secret_file),
            env=issuer_env(home, issuer),
        )
        try:
            assert broker.socket is not None
            # Warm up both listeners (first imports, first allocations) before the baseline.
            for _ in range(20):
                assert unix_request(broker.socket).status == 200
                auth = {"Authorization": f"Bearer {secret}"}
                assert tcp_request(port, headers=auth).status == 200
            yield Served(
                broker,
                home,
                secret,
                broker.socket,
                port,
                fd_count(broker.pid),
                rss_kib(broker.pid),
            )
        finally:
            broker.close()


def assert_recovered(served: Served) -> None:
    """Still serving quickly; descriptors back near idle; memory bounded; a clean log."""
    started = time.monotonic()
    answer = unix_request(served.socket, timeout=QUICK)
    elapsed = time.monotonic() - started
    assert answer.status == 200
    assert answer.json()["access_token"] == served.token()
    assert elapsed < QUICK, f"a normal request took {elapsed:.2f} s after the abuse"
    pid = served.broker.pid
    limit = served.idle_fds + FD_SLACK
    wait_until(
        lambda: fd_count(pid) <= limit,
        timeout=CLI_FIRST_REQUEST_DEADLINE + 10,
        what=f"the broker's descriptors to return to {limit} (now {fd_count(pid)})",
    )
    grown = rss_kib(pid) - served.idle_rss_kib
    assert grown < RSS_GROWTH_KIB, f"the broker's memory grew by {grown} KiB"
    assert served.broker.process.poll() is None


def assert_clean_log(served: Served, since: int) -> None:
    """No traceback and no secret on the broker's stderr (SPEC §7), whatever clients sent.

    ``since``: how many lines it had printed before the test (``len(broker.lines())``).
    """
    log = "\n".join(served.broker.lines()[since:])
    leaked = [index for index, value in enumerate(served.secrets()) if value in log]
    assert leaked == [], f"secrets #{leaked} (0 = the TCP secret) are in the broker's log"
    assert "Traceback" not in log, _first_traceback(log)


def _first_traceback(log: str) -> str:
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if "Traceback" in line)
    return "the broker printed a traceback:\n" + "\n".join(lines[max(0, start - 1) : start + 14])


def request_bytes(
    target: str = "/v1/token",
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    close: bool = True,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def timed(call: Callable[[], Answer | None], seconds: float) -> Answer | None:
    started = time.monotonic()
    answer = call()
    assert time.monotonic() - started < seconds, "the broker took too long to refuse"
    return answer


# -- sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_oversized_request_lines_and_headers_are_refused_at_once(
    served: Served, where: str
) -> None:
    since = len(served.broker.lines())
    address: Address = served.socket if where == "unix" else served.tcp
    auth = [("Authorization", f"Bearer {served.secret}")] if where == "tcp" else []
    cases = {
        "request line": request_bytes("/v1/token?" + "a" * 8192, headers=auth),
        "path": request_bytes("/" + "v" * 65536, headers=auth),
        "header value": request_bytes(headers=[*auth, ("X-Big", "b" * 8192)]),
        "header name": request_bytes(headers=[*auth, ("X-" + "n" * 8192, "1")]),
        "header count": request_bytes(headers=auth + [(f"X-{i}", "v") for i in range(200)]),
        "header section": request_bytes(headers=auth + [(f"X-{i}", "h" * 4000) for i in range(64)]),
        "method": b"G" * 8192 + b" /v1/token HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    for name, data in cases.items():
        answer = timed(partial(send_raw, address, data), 5.0)
        status = None if answer is None else answer.status
        assert status in (None, 400, 413, 414, 431), (name, status)
        if answer is not None:
            assert served.token().encode() not in answer.body, name
    assert_recovered(served)
    assert_clean_log(served, since)


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_an_oversized_body_is_413(served: Served, where: str) -> None:
    since = len(served.broker.lines())
    address: Address = served.socket if where == "unix" else served.tcp
    auth = [("Authorization", f"Bearer {served.secret}")] if where == "tcp" else []
    json_type = ("Content-Type", "application/json")
    big = b'{"stale": "' + b"x" * 100_000 + b'"}'
    chunked = b"".join(b"1000\r\n" + b"y" * 4096 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    cases = {
        "content-length": request_bytes(
            "/v1/token/refresh",
            method="POST",
            headers=[*auth, json_type, ("Content-Length", str(len(big)))],
            body=big,
        ),
        # Announces a gigabyte, sends 8 KiB: refused when 4 KiB have come, not at the end.
        "lying content-length": request_bytes(
            "/v1/token/refresh",
            method="POST",
            headers=[*auth, json_type, ("Content-Length", str(10**9))],
            body=b"z" * 8192,
        ),
        "chunked": request_bytes(
            "/v1/token/refresh",
            method="POST",
            headers=[*auth, json_type, ("Transfer-Encoding", "chunked")],
            body=chunked,
        ),
    }
    for name, data in cases.items():
        answer = timed(partial(send_raw, address, data), 5.0)
        assert answer is not None, name
        assert answer.status == 413, (name, answer.status, answer.body)
        assert answer.header("Cache-Control") == "no-store"
        assert answer.json()["error"] == "request_entity_too_large"
    # http.client, as a real client sends it.
    connection = UnixHTTPConnection(served.socket)
    try:
        answer = request_on(
            connection,
            "POST",
            "/v1/token/refresh",
            body=big,
            headers={"Content-Type": "application/json"},
        )
    finally:
        connection.close()
    assert answer.status == 413
    assert_recovered(served)
    assert_clean_log(served, since)


# -- path tricks -----------------------------------------------------------------------

PATH_TRICKS = [
    "/v1/token/../healthz",
    "/healthz/../v1/token",
    "//v1/token",
    "/v1//token",
    "/v1/token/",
    "/v1/token%2F..",
    "/v1/token%2f..%2f..%2fhealthz",
    "/v1/%74oken",
    "/V1/TOKEN",
    "/v1/token?x=1",
    "/v1/token?access_token=1",
    "/v1/token#fragment",
    "/v1/token;x=1",
    "/./v1/token",
    "/v1/./token",
    "/%2e%2e/v1/token",
    "/v1/token%00",
    "/v1/token\\..\\healthz",
    "http://localhost/v1/token",
    "http://127.0.0.1:1/v1/token",
    "https://evil.example/v1/token",
    "http://user:pass@localhost/v1/token",
    "//evil.example/v1/token",
    "*",
    "v1/token",
    "",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "FOO"]


def test_path_tricks_never_pass_the_tcp_secret(served: Served) -> None:
    """Without the secret, no method, path or URI form gets a token or a 5xx."""
    since = len(served.broker.lines())
    seen: Counter[str] = Counter()
    for method in METHODS:
        for target in PATH_TRICKS:
            data = request_bytes(target or " ", method=method)
            answer = timed(partial(send_raw, served.tcp, data), 5.0)
            status = None if answer is None else answer.status
            seen[str(status)] += 1
            assert status in (None, 400, 403, 404, 405), (method, target, status)
            if answer is not None:
                assert served.token().encode() not in answer.body, (method, target)
    print(f"\npath tricks over TCP without the secret: {dict(seen)}")
    assert seen["403"] > 0
    assert_recovered(served)
    assert_clean_log(served, since)


def test_path_tricks_on_the_socket_answer_without_a_5xx(served: Served) -> None:
    since = len(served.broker.lines())
    outcomes: dict[str, int | None] = {}
    for method in METHODS:
        for target in PATH_TRICKS:
            data = request_bytes(target or " ", method=method)
            answer = timed(partial(send_raw, served.socket, data), 5.0)
            status = None if answer is None else answer.status
            outcomes[f"{method} {target}"] = status
            assert status is None or status < 500, (method, target, status)
            if answer is not None and status == 200 and method == "GET":
                assert set(answer.json()) >= {"access_token", "mode"}
    tokens = [key for key, status in outcomes.items() if status == 200]
    print(f"\nanswered 200 on the socket: {tokens}")
    # Only the token and health routes themselves answer 200, never a dot-segment trick.
    assert not [key for key in tokens if ".." in key or "%2" in key.lower()]
    assert_recovered(served)
    assert_clean_log(served, since)


# -- 10,000 junk requests --------------------------------------------------------------

JUNK_HEADERS = [
    b"Host: a\r\nHost: b",
    b"Content-Length: -1",
    b"Content-Length: abc",
    b"Content-Length: 5\r\nContent-Length: 6",
    b"Content-Length: 3\r\nTransfer-Encoding: chunked",
    b"Transfer-Encoding: chunked, identity",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nxx",
    b"Expect: 100-continue",
    b"Upgrade: websocket\r\nConnection: Upgrade",
    b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__",
    b"X-Fold: a\r\n folded",
    b"Bad Header: 1",
    b"X-Nul: a\x00b",
    b"X-Ctl: \x01\x02\x7f",
    b": no-name",
    b"NoColon",
    b"X-Utf8: \xc3\x28\xff",
    b"Authorization: Bearer",
    b"Authorization: Bearer " + b"A" * 64,
    b"Authorization: Basic Zm9vOmJhcg==",
    b"Connection: keep-alive, close, upgrade",
]
VERSIONS = [
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/0.9",
    b"HTTP/2.0",
    b"HTTP/9.9",
    b"HTTP/1.1x",
    b"http/1.1",
]


def junk(rng: random.Random) -> bytes:
    """One hostile request: complete enough that the broker answers or closes at once."""
    kind = rng.randrange(10)
    target = rng.choice([*PATH_TRICKS, "/v1/token", "/healthz", "/v1/token/refresh"])
    method = rng.choice([*METHODS, "get", "G ET", "GET\x00", "\xffGET", "PRI"])
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(1, 512)) + b"\r\n\r\n"
    if kind == 1:  # random printable text
        size = rng.randrange(1, 300)
        text = "".join(rng.choice("GET /v1tokn:HTP\r\n \t?%.") for _ in range(size))
        return text.encode() + b"\r\n\r\n"
    if kind == 2:  # HTTP/0.9 and odd versions
        version = rng.choice(VERSIONS)
        return f"{method} {target or '/'} ".encode("latin-1") + version + b"\r\n\r\n"
    if kind == 3:  # HTTP/0.9 simple request
        return b"GET /v1/token\r\n\r\n"
    if kind == 4:  # bad headers
        bad = rng.sample(JUNK_HEADERS, rng.randrange(1, 4))
        line = f"{rng.choice(['GET', 'POST'])} {target or '/'} HTTP/1.1\r\nHost: x\r\n"
        return line.encode("latin-1") + b"\r\n".join(bad) + b"\r\nConnection: close\r\n\r\n"
    if kind == 5:  # pipelined, the second one broken
        first = request_bytes(rng.choice(["/healthz", "/v1/token"]), close=False)
        return first + rng.randbytes(rng.randrange(1, 64)) + b"\r\n\r\n"
    if kind == 6:  # absolute-form and authority-form targets
        uri = rng.choice(["http://localhost/v1/token", "localhost:80", "//x/v1/token", "*"])
        return f"{method} {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1")
    if kind == 7:  # bodies that are not JSON
        body = rng.randbytes(rng.randrange(0, 600))
        headers = [("Content-Type", rng.choice(["application/json", "text/plain", "x/y"]))]
        headers.append(("Content-Length", str(len(body))))
        return request_bytes("/v1/token/refresh", method="POST", headers=headers, body=body)
    if kind == 8:  # a plain method and path trick
        return request_bytes(target or "/", method=rng.choice(METHODS))
    return rng.randbytes(rng.randrange(1, 64)) + b" / HTTP/1.1\r\n\r\n"


@attrs.define
class Tally:
    outcomes: Counter[str] = attrs.Factory(Counter)
    problems: list[str] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def add(self, outcome: str, problem: str | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if problem is not None and len(self.problems) < 20:
                self.problems.append(problem)


def throw(address: Address, data: bytes, tally: Tally, forbidden: bytes) -> None:
    """Send one junk request; wait 1 s for an answer, then half-close and await the close."""
    with connect(address, timeout=1.0) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        try:
            answer = answer_on(sock, method_of(data))
        except TimeoutError:
            answer = None
            waited = True
        except (http.client.HTTPException, OSError, ValueError) as exc:
            tally.add(f"garbled: {type(exc).__name__}")
            return
        else:
            waited = False
        if answer is not None:
            outcome = f"{answer.status}"
            problem = None
            if answer.status >= 500:
                problem = f"{answer.status} for {data[:80]!r}"
            if forbidden and forbidden in answer.body:
                problem = f"a token without the secret for {data[:80]!r}"
            tally.add(outcome, problem)
            return
        if not waited:
            tally.add("closed")
            return
        # Incomplete to the parser: our end-of-file must make the broker close at once.
        sock.settimeout(5.0)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            tally.add("hung", f"no close 5 s after end-of-file for {data[:80]!r}")
            return
        tally.add("closed after end-of-file")


def test_ten_thousand_junk_requests(served: Served) -> None:
    since = len(served.broker.lines())
    rng = random.Random(20261130)  # noqa: S311  (a repeatable corpus, not a secret)
    corpus = [junk(rng) for _ in range(JUNK_REQUESTS)]
    tally = Tally()
    token = served.token().encode()
    started = time.monotonic()

    def one(index: int) -> None:
        over_tcp = index % 3 == 0  # a third over TCP, without the secret
        address: Address = served.tcp if over_tcp else served.socket
        try:
            throw(address, corpus[index], tally, token if over_tcp else b"")
        except TimeoutError:
            tally.add("connect timed out", f"connect timed out for #{index}")
        except OSError as exc:
            tally.add(f"connect: {type(exc).__name__}", f"{exc} for #{index}")

    with ThreadPoolExecutor(JUNK_WORKERS) as pool:
        list(pool.map(one, range(JUNK_REQUESTS)))
    elapsed = time.monotonic() - started
    print(f"\n{JUNK_REQUESTS} junk requests in {elapsed:.1f} s: {dict(tally.outcomes)}")
    assert tally.problems == []
    assert sum(tally.outcomes.values()) == JUNK_REQUESTS
    assert elapsed < JUNK_SECONDS
    assert_recovered(served)
    assert_clean_log(served, since)


# -- slow clients ----------------------------------------------------------------------


def test_slow_clients_do_not_block_others_and_are_dropped_by_the_cli_deadline(
    served: Served,
) -> None:
    """100 connections send half a request line; others are served; all dropped at the
    deadline (the TCP ones that have not proven themselves, sooner)."""
    slow: list[socket.socket] = []
    try:
        for index in range(100):
            sock = connect(served.socket if index % 2 else served.tcp, timeout=20.0)
            slow.append(sock)
            sock.sendall(b"GET /v1/tok")
        opened = time.monotonic()
        started = time.monotonic()
        assert unix_request(served.socket, timeout=QUICK).status == 200
        assert time.monotonic() - started < QUICK
        for sock in slow:
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1024) == b""
        dropped = time.monotonic() - opened
        assert dropped < CLI_FIRST_REQUEST_DEADLINE + 5, f"dropped after {dropped:.1f} s"
    finally:
        for sock in slow:
            sock.close()
    assert_recovered(served)


@pytest.fixture
def service_home(tmp_path: Path) -> Iterator[tuple[Path, FakeIssuer]]:
    with running_issuer(FakeIssuer()) as issuer:
        home = tmp_path / "codex"
        home.mkdir(mode=0o700)
        write_login(
            home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url
        )
        yield home, issuer


def test_the_first_request_deadline_drops_slow_clients(
    tmp_path: Path, service_home: tuple[Path, FakeIssuer]
) -> None:
    home, issuer = service_home
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    deadline = 0.5
    path = tmp_path / "broker.sock"
    with broker_in_thread(service, path, limits=Limits(first_request_deadline=deadline)):
        silent = [connect(path, timeout=10.0) for _ in range(20)]
        partial = [connect(path, timeout=10.0) for _ in range(20)]
        for sock in partial:
            sock.sendall(b"GET /v1/token HTTP/1.1\r\nHost: x\r\n")  # headers never end
        trickle = connect(path, timeout=10.0)
        kept = connect(path, timeout=10.0)
        opened = time.monotonic()
        try:
            # A client that asked in time keeps its connection past the deadline.
            kept.sendall(request_bytes(close=False))
            first = answer_on(kept)
            assert first is not None
            assert first.status == 200
            # One byte every 50 ms: busy, but never a whole request.
            trickled = 0
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for byte in b"GET /v1/token HTTP/1.1\r\nX-Slow: " + b"s" * 1000:
                    trickle.send(bytes([byte]))
                    trickled += 1
                    time.sleep(0.05)
            trickle_cut = time.monotonic() - opened
            assert trickle_cut < deadline + 2.0, f"the trickle went on for {trickle_cut:.1f} s"
            for sock in silent + partial:
                with contextlib.suppress(ConnectionResetError):
                    assert sock.recv(1024) == b""
            dropped = time.monotonic() - opened
            assert dropped < deadline + 2.0, f"dropped after {dropped:.1f} s"
            wait_until(lambda: time.monotonic() - opened > deadline * 2, timeout=5, what="time")
            kept.sendall(request_bytes())
            second = answer_on(kept)
            assert second is not None
            assert second.status == 200
            # And a new client is served at once.
            assert unix_request(path, timeout=QUICK).status == 200
        finally:
            for sock in [*silent, *partial, trickle, kept]:
                sock.close()


def test_connections_beyond_the_cap_are_closed_at_once_and_later_ones_served(
    tmp_path: Path, service_home: tuple[Path, FakeIssuer]
) -> None:
    home, issuer = service_home
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    cap = 8
    path = tmp_path / "broker.sock"
    limits = Limits(max_connections=cap, first_request_deadline=30.0, keepalive=30.0)
    with broker_in_thread(service, path, limits=limits):
        held = [UnixHTTPConnection(path, timeout=10.0) for _ in range(cap)]
        try:
            for connection in held:  # each is live: it asked once and keeps the connection
                assert request_on(connection, headers={"Connection": "keep-alive"}).status == 200
            for _ in range(5):
                started = time.monotonic()
                extra = send_raw(path, request_bytes(), timeout=5.0)
                assert extra is None, "a connection beyond the cap was served"
                assert time.monotonic() - started < 1.0, "the extra connection was not closed"
            held.pop().close()
            wait_until(
                lambda: send_raw(path, request_bytes(), timeout=5.0) is not None,
                timeout=10,
                what="a free slot after one client left",
            )
            for connection in held:  # the ones that were in stay served
                assert request_on(connection, headers={"Connection": "keep-alive"}).status == 200
        finally:
            for connection in held:
                connection.close()
        for _ in range(3 * cap):  # all gone: new clients are served, one after another
            answer = unix_request(path, timeout=5.0)
            assert answer.status == 200
