"""Not an open relay: every request aimed anywhere but ``/openai/v1/`` at the configured
upstream gets 400 or 403, and the upstream receives nothing.

Sent as raw bytes (no client library normalises the target) to a real ``Broker`` on its
Unix socket and on loopback TCP with the secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Access
from codex_login.entrypoints.proxy.relay import path_problem
from support.broker import Address, ThreadBroker, broker_in_thread, send_raw, unix_request
from support.fake_issuer import FakeIssuer
from support.proxy_upstream import Upstream, running_upstream

SECRET = secrets.token_urlsafe(32)


@attrs.frozen
class Relay:
    broker: ThreadBroker
    upstream: Upstream

    def address(self, where: str) -> Address:
        if where == "unix":
            return self.broker.socket
        assert self.broker.port is not None
        return ("127.0.0.1", self.broker.port)


@pytest.fixture
def relay(tmp_path: Path, home: Path, issuer: FakeIssuer) -> Iterator[Relay]:
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with (
        running_upstream() as upstream,
        broker_in_thread(
            service,
            tmp_path / "broker.sock",
            upstream=f"{upstream.url}/base",
            access=Access(secret=SECRET),
            tcp=True,
        ) as broker,
    ):
        yield Relay(broker, upstream)


def raw(method: str, target: str, *headers: str, host: str | None = "localhost") -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"Authorization: Bearer {SECRET}", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


EVIL = "evil.example"
# (method, target, extra headers, host): each must be refused.
CORPUS: list[tuple[str, str, tuple[str, ...], str | None]] = [
    ("GET", f"http://{EVIL}/openai/v1/models", (), "localhost"),
    ("GET", "http://localhost/openai/v1/models", (), "localhost"),
    ("GET", f"https://{EVIL}/openai/v1/models", (), EVIL),
    ("GET", f"//{EVIL}/openai/v1/models", (), "localhost"),
    ("CONNECT", f"{EVIL}:443", (), f"{EVIL}:443"),
    ("CONNECT", "/openai/v1/models", (), "localhost"),
    ("GET", "/openai/v1/models", (), EVIL),
    ("GET", "/openai/v1/models", (), f"{EVIL}:443"),
    ("GET", "/openai/v1/models", (), "127.0.0.1:1"),
    ("GET", "/openai/v1/models", (f"X-Forwarded-Host: {EVIL}",), "localhost"),
    ("GET", "/openai/v1/models", (f"X-Forwarded-Server: {EVIL}",), "localhost"),
    ("GET", "/openai/v1/models", (f"Forwarded: for=1.2.3.4;host={EVIL}",), "localhost"),
    ("GET", "/openai/v1/models", ("X-Original-URL: /admin",), "localhost"),
    ("GET", "/openai/v1/models", ("X-Rewrite-URL: /admin",), "localhost"),
    ("GET", "/openai/v1/../../v1/token", (), "localhost"),
    ("GET", "/openai/v1/./models", (), "localhost"),
    ("GET", "/openai/v1/a/../models", (), "localhost"),
    ("GET", "/openai/v1/%2e%2e/x", (), "localhost"),
    ("GET", "/openai/v1/%2E%2E/x", (), "localhost"),
    ("GET", "/openai/v1/%2e/models", (), "localhost"),
    ("GET", "/openai/v1/a%2fb", (), "localhost"),
    ("GET", "/openai/v1/a%2Fb", (), "localhost"),
    ("GET", "/openai/v1/a%5cb", (), "localhost"),
    ("GET", "/openai/v1/a%5Cb", (), "localhost"),
    ("GET", "/openai/v1/a\\..\\b", (), "localhost"),
    ("GET", "/openai/v1//models", (), "localhost"),
    ("GET", "/openai/v1/..", (), "localhost"),
]


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_requests_aimed_elsewhere_are_refused_and_nothing_is_sent(relay: Relay, where: str) -> None:
    address = relay.address(where)
    outcomes = {}
    for method, target, headers, host in CORPUS:
        answer = send_raw(address, raw(method, target, *headers, host=host))
        outcomes[f"{method} {target} {headers} {host}"] = None if answer is None else answer.status
    wrong = {case: status for case, status in outcomes.items() if status not in (400, 403)}
    assert wrong == {}
    assert relay.upstream.seen == []
    # ...and the proxy still forwards what it should.
    port = f":{relay.broker.port}" if where == "tcp" else ""
    for host in (f"localhost{port}", f"127.0.0.1{port}", f"[::1]{port}"):
        answer = send_raw(address, raw("GET", "/openai/v1/models?a=b", host=host))
        assert answer is not None
        assert answer.status == 200, (host, answer.body)
    assert [seen.target for seen in relay.upstream.seen] == ["/base/models?a=b"] * 3


def test_only_openai_v1_is_forwarded(relay: Relay) -> None:
    for target in ("/openai/v2/models", "/openai/models", "/OPENAI/v1/models", "/v1/models"):
        answer = unix_request(relay.broker.socket, "GET", target)
        assert answer.status == 404, target
    assert relay.upstream.seen == []


def test_tcp_without_the_secret_sends_nothing(relay: Relay) -> None:
    data = b"GET /openai/v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    answer = send_raw(relay.address("tcp"), data)
    assert answer is not None
    assert answer.status == 403
    assert relay.upstream.seen == []


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/openai/v1/a\\b", "a backslash in the path"),
        ("/openai/v1/a%2fb", "encoded slashes, backslashes or dots in the path"),
        ("/openai/v1/a%5Cb", "encoded slashes, backslashes or dots in the path"),
        ("/openai/v1/%2e%2e/x", "encoded slashes, backslashes or dots in the path"),
    ],
)
def test_a_refused_path_says_what_is_in_it(path: str, said: str) -> None:
    refusal = path_problem(path)
    assert refusal is not None
    assert (refusal.status, refusal.message) == (400, said)
