"""The broker's hostile-client corpus, aimed at the proxy's routes of one running
``codex-login serve --tcp --secret-file --upstream``: oversized request lines, headers
and bodies, slowloris, CL+TE smuggling, CRLF header injection, absolute URIs and
CONNECT. The broker keeps serving, nothing reaches the upstream, and its log holds no
traceback and no secret.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from codex_login.entrypoints.broker import Limits
from support.broker import (
    Address,
    ServedBroker,
    connect,
    exchange,
    free_port,
    send_raw,
    start_broker,
    status_of,
    unix_request,
)
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import issuer_env, stored, write_login
from support.proxy_upstream import Upstream, running_upstream
from support.waiting import wait_until

pytestmark = pytest.mark.slow

DEADLINE = Limits().first_request_deadline  # what `serve` uses
MAX_BODY = Limits().proxy_max_body


@attrs.frozen
class Served:
    broker: ServedBroker
    upstream: Upstream
    home: Path
    secret: str
    port: int

    @property
    def tcp(self) -> Address:
        return ("127.0.0.1", self.port)

    def secrets(self) -> list[str]:
        tokens = stored(self.home)["tokens"]
        return [self.secret, tokens["access_token"], tokens["refresh_token"]]

    def auth(self) -> str:
        return f"Authorization: Bearer {self.secret}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("proxy-hostile")
    home = root / "codex"
    home.mkdir(mode=0o700)
    secret = secrets.token_urlsafe(32)
    secret_file = root / "broker.secret"
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    port = free_port()
    with running_issuer(FakeIssuer()) as issuer, running_upstream() as upstream:
        write_login(
            home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url
        )
        args = ["--tcp", str(port), "--secret-file", str(secret_file)]
        args += ["--upstream", f"{upstream.url}/base"]
        broker = start_broker(home, *args, env=issuer_env(home, issuer))
        try:
            yield Served(broker, upstream, home, secret, port)
        finally:
            broker.close()


def raw(
    served: Served, target: str, *headers: str, method: str = "GET", body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{served.port}", served.auth()]
    lines += [*headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_still_serving_and_clean(served: Served, since: int, upstream_seen: int) -> None:
    assert len(served.upstream.seen) == upstream_seen, served.upstream.seen[upstream_seen:]
    assert served.broker.socket is not None
    started = time.monotonic()
    assert unix_request(served.broker.socket).status == 200
    answer = unix_request(served.broker.socket, "GET", "/openai/v1/models")
    assert answer.status == 200
    assert time.monotonic() - started < 2.0
    log = "\n".join(served.broker.lines()[since:])
    leaked = [index for index, value in enumerate(served.secrets()) if value in log]
    assert leaked == []
    assert "Traceback" not in log


def test_oversized_lines_headers_and_bodies(served: Served) -> None:
    since, seen = len(served.broker.lines()), len(served.upstream.seen)
    long_path = "/openai/v1/" + "a" * 8192
    cases = {
        "request line": raw(served, long_path),
        "one header": raw(served, "/openai/v1/models", "X-Big: " + "b" * 8192),
        "many headers": raw(served, "/openai/v1/models", *[f"X-{i}: {i}" for i in range(64)]),
        "announced body": raw(
            served, "/openai/v1/responses", f"Content-Length: {MAX_BODY + 1}", method="POST"
        ),
    }
    for name, data in cases.items():
        reply = exchange(served.tcp, data)
        assert status_of(reply) in (None, 400, 413, 431), (name, reply[:200])  # None: closed
    # A body over the bound, sent chunked (no length announced): 413 once it is over.
    chunk = b"x" * (1 << 20)
    body = b"".join(b"100000\r\n" + chunk + b"\r\n" for _ in range(MAX_BODY // len(chunk) + 1))
    data = raw(served, "/openai/v1/responses", "Transfer-Encoding: chunked", method="POST")
    answer = send_raw(served.tcp, data + body + b"0\r\n\r\n", timeout=30)
    assert answer is not None
    assert answer.status == 413
    assert_still_serving_and_clean(served, since, seen)


SMUGGLING = [
    ("Content-Length: 3", "Transfer-Encoding: chunked"),
    ("Transfer-Encoding: chunked", "Content-Length: 3"),
    ("Content-Length: 5", "Content-Length: 6"),
    ("Transfer-Encoding: chunked, identity",),
    ("Transfer-Encoding: gzip",),
    ("Transfer-Encoding : chunked",),
    ("Content-Length: -1",),
    ("Content-Length: +5",),
]


def test_cl_te_smuggling_is_refused_and_nothing_is_sent(served: Served) -> None:
    since, seen = len(served.broker.lines()), len(served.upstream.seen)
    smuggled = b"0\r\n\r\nGET /openai/v1/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    for headers in SMUGGLING:
        data = raw(served, "/openai/v1/responses", *headers, method="POST", body=smuggled)
        reply = exchange(served.tcp, data)
        assert status_of(reply) in (None, 400, 501), (headers, reply[:200])
    assert_still_serving_and_clean(served, since, seen)


def test_crlf_header_injection_reaches_no_upstream_header(served: Served) -> None:
    since = len(served.broker.lines())
    for header in ("X-A: a\rX-Injected: 1", "X-A: a\nX-Injected: 1", "X-A: a\x00b"):
        reply = exchange(served.tcp, raw(served, "/openai/v1/models", header))
        status = status_of(reply)
        assert status in (None, 200, 400), (header, reply[:200])
    # Encoded in the query, it passes as data, never as a header.
    answer = send_raw(served.tcp, raw(served, "/openai/v1/models?x=%0d%0aX-Injected:%201"))
    assert answer is not None
    assert answer.status == 200
    assert all("x-injected" not in s.headers for s in served.upstream.seen)
    assert_still_serving_and_clean(served, since, len(served.upstream.seen))


def test_absolute_uris_and_connect_send_nothing(served: Served) -> None:
    since, seen = len(served.broker.lines()), len(served.upstream.seen)
    for method, target in [
        ("GET", "http://evil.example/openai/v1/models"),
        ("GET", f"http://127.0.0.1:{served.port}/openai/v1/models"),
        ("POST", "https://evil.example/openai/v1/responses"),
        ("CONNECT", "evil.example:443"),
        ("CONNECT", "/openai/v1/models"),
    ]:
        answer = send_raw(served.tcp, raw(served, target, method=method))
        assert answer is not None
        assert answer.status in (400, 403), (method, target, answer.status)
    assert_still_serving_and_clean(served, since, seen)


def test_slowloris_on_the_proxy_is_dropped_at_the_deadline(served: Served) -> None:
    since, seen = len(served.broker.lines()), len(served.upstream.seen)
    head = f"POST /openai/v1/responses HTTP/1.1\r\nHost: localhost\r\n{served.auth()}\r\n"
    slow: list[socket.socket] = []
    try:
        for _ in range(20):
            sock = connect(served.tcp)
            sock.sendall(head.encode())  # the headers never end
            slow.append(sock)
        assert_still_serving_and_clean(served, since, seen)

        def all_closed() -> bool:
            for sock in slow:
                sock.setblocking(False)
                try:
                    if sock.recv(1) != b"":
                        return False
                except BlockingIOError:
                    return False
                except OSError:
                    continue
            return True

        wait_until(all_closed, timeout=DEADLINE + 10, what="the slow clients to be dropped")
    finally:
        for sock in slow:
            sock.close()
    assert len(served.upstream.seen) == seen + 1  # only the normal request
