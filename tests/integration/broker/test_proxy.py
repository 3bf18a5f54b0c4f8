"""The credential-injecting proxy (``/openai/v1/``): forwarding, headers, the body bound,
401 → one forced refresh → one retry, statuses passed through, and streaming.

A real ``Broker`` on a Unix socket (in a thread), a real loopback upstream
(``support.proxy_upstream``) and the fake issuer; clients speak plain ``http.client``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Limits
from codex_login.testing import Failure
from support.broker import ThreadBroker, UnixHTTPConnection, broker_in_thread, unix_request
from support.fake_issuer import FakeIssuer
from support.logins import stored
from support.proxy_upstream import Upstream, running_upstream
from support.waiting import wait_until


@attrs.frozen
class Proxied:
    broker: ThreadBroker
    upstream: Upstream
    home: Path
    issuer: FakeIssuer

    @property
    def socket(self) -> Path:
        return self.broker.socket

    def token(self) -> str:
        value: str = stored(self.home)["tokens"]["access_token"]
        return value


@pytest.fixture
def proxied(tmp_path: Path, home: Path, issuer: FakeIssuer) -> Iterator[Proxied]:
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with (
        running_upstream() as upstream,
        broker_in_thread(
            service,
            tmp_path / "broker.sock",
            upstream=f"{upstream.url}/base",
            limits=Limits(proxy_max_body=1 << 20),
        ) as broker,
    ):
        yield Proxied(broker, upstream, home, issuer)


def test_a_request_goes_to_the_upstream_with_the_logins_headers_and_not_the_clients(
    proxied: Proxied,
) -> None:
    answer = unix_request(
        proxied.socket,
        "POST",
        "/openai/v1/responses?stream=false&x=%20y",
        body=b'{"model": "m"}',
        headers={
            "Authorization": "Bearer the-clients-key",
            "ChatGPT-Account-ID": "someone-else",
            "Content-Type": "application/json",
            "OpenAI-Beta": "responses=v1",
            "Connection": "keep-alive, X-Client-Hop",
            "X-Client-Hop": "1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eDp5",
            "X-Forwarded-For": "10.0.0.1",
        },
    )
    assert answer.status == 200, answer.body
    assert answer.json() == {
        "method": "POST",
        "target": "/base/responses?stream=false&x=%20y",
        "body": '{"model": "m"}',
    }
    [seen] = proxied.upstream.seen
    assert seen.headers["authorization"] == f"Bearer {proxied.token()}"
    assert seen.headers["chatgpt-account-id"] == "acc-123"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["openai-beta"] == "responses=v1"
    assert seen.headers["host"] == proxied.upstream.url.removeprefix("http://")
    for name in ("x-client-hop", "te", "proxy-authorization", "x-forwarded-for"):
        assert name not in seen.headers, name
    assert "the-clients-key" not in repr(seen)
    # The upstream's hop-by-hop headers stop at the proxy; its end-to-end ones pass.
    assert answer.header("X-End") == "1"
    assert answer.header("X-Hop") is None
    assert answer.header("Keep-Alive") is None
    assert proxied.token() not in answer.raw()


def test_requests_reuse_one_upstream_connection(proxied: Proxied) -> None:
    for target in ("/openai/v1/models", "/openai/v1/status/500", "/openai/v1/stream"):
        proxied.upstream.release.set()
        assert unix_request(proxied.socket, "POST", target, body=b"{}").status in (200, 500)
    assert len({seen.connection for seen in proxied.upstream.seen}) == 1


def test_a_body_over_the_bound_is_413_and_nothing_is_sent(proxied: Proxied) -> None:
    big = b"x" * ((1 << 20) + 1)
    answer = unix_request(proxied.socket, "POST", "/openai/v1/responses", body=big)
    assert answer.status == 413
    assert answer.json()["error"] == "request_entity_too_large"
    fits = b"y" * (1 << 20)
    assert unix_request(proxied.socket, "POST", "/openai/v1/responses", body=fits).status == 200
    assert [len(seen.body) for seen in proxied.upstream.seen] == [1 << 20]


def test_an_upstream_401_is_retried_once_after_one_forced_refresh(proxied: Proxied) -> None:
    before = proxied.token()
    proxied.upstream.refuse(before)
    answer = unix_request(proxied.socket, "POST", "/openai/v1/responses", body=b"{}")
    assert answer.status == 200, answer.body
    after = proxied.token()
    assert after != before
    assert len(proxied.issuer.posts("refresh_token")) == 1
    sent = [seen.headers["authorization"] for seen in proxied.upstream.seen]
    assert sent == [f"Bearer {before}", f"Bearer {after}"]
    assert [seen.body for seen in proxied.upstream.seen] == [b"{}", b"{}"]


def test_a_second_401_passes_through_untouched(proxied: Proxied) -> None:
    proxied.upstream.refuse_every_token = True
    answer = unix_request(proxied.socket, "POST", "/openai/v1/responses", body=b"{}")
    assert answer.status == 401
    assert answer.json() == {"error": {"code": "token_expired"}}
    assert len(proxied.upstream.seen) == 2
    assert len(proxied.issuer.posts("refresh_token")) == 1


def test_a_401_is_not_sent_again_when_the_refresh_gives_no_new_token(proxied: Proxied) -> None:
    """A token refreshed a moment ago is what a forced refresh answers with: sending the
    request again would only repeat it (a POST, twice) with the refused credential."""
    proxied.upstream.refuse_every_token = True
    assert unix_request(proxied.socket, "POST", "/openai/v1/responses", body=b"{}").status == 401
    refreshed = proxied.token()
    answer = unix_request(proxied.socket, "POST", "/openai/v1/responses", body=b"{2}")
    assert answer.status == 401
    assert answer.json() == {"error": {"code": "token_expired"}}
    assert [seen.body for seen in proxied.upstream.seen] == [b"{}", b"{}", b"{2}"]
    assert proxied.upstream.seen[-1].headers["authorization"] == f"Bearer {refreshed}"
    assert len(proxied.issuer.posts("refresh_token")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_pass_through_untouched(proxied: Proxied, status: int) -> None:
    answer = unix_request(proxied.socket, "GET", f"/openai/v1/status/{status}")
    assert answer.status == status
    assert answer.json() == {"status": status}
    assert len(proxied.upstream.seen) == 1
    assert proxied.issuer.posts("refresh_token") == []


def test_concurrent_refused_requests_share_one_refresh(proxied: Proxied) -> None:
    proxied.upstream.refuse(proxied.token())
    count = 8
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def client() -> None:
        barrier.wait(10)
        statuses.append(unix_request(proxied.socket, "GET", "/openai/v1/models").status)

    threads = [threading.Thread(target=client) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * count
    assert len(proxied.issuer.posts("refresh_token")) == 1


def test_events_are_delivered_one_by_one(proxied: Proxied) -> None:
    """The upstream holds its second event back until the client has read the first."""
    connection = UnixHTTPConnection(proxied.socket, timeout=10)
    try:
        connection.request("POST", "/openai/v1/stream", body=b"{}")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.readline() == b"event: one\n"
        assert response.readline() == b'data: {"n": 1}\n'
        assert not proxied.upstream.release.is_set()  # the second is not sent yet
        proxied.upstream.release.set()
        assert response.read() == b'\nevent: two\ndata: {"n": 2}\n\n'
    finally:
        connection.close()


def test_a_client_that_leaves_mid_stream_ends_the_upstream_request(proxied: Proxied) -> None:
    connection = UnixHTTPConnection(proxied.socket, timeout=10)
    connection.request("POST", "/openai/v1/hold", body=b"{}")
    response = connection.getresponse()
    assert response.readline() == b"event: one\n"
    assert not proxied.upstream.ended.is_set()
    connection.close()
    response.close()
    assert proxied.upstream.ended.wait(10), "the upstream request outlived its client"
    assert unix_request(proxied.socket, "GET", "/openai/v1/models").status == 200
    assert not [line for line in proxied.broker.log if "Traceback" in line or "rejected" in line]


def test_a_stop_cuts_a_stream_still_open_at_the_end_of_the_grace_and_logs_it(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    """aiohttp waits the grace, cancels, then waits as long again for a handler that
    streams (it does not hear the cancel): serve took twice its 30 s, and the request
    was never logged. The stream is cut at the grace's end, as a client that left."""
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with running_upstream() as upstream:
        with broker_in_thread(
            service, tmp_path / "b.sock", upstream=upstream.url, limits=Limits(shutdown_grace=0.5)
        ) as broker:
            connection = UnixHTTPConnection(broker.socket, timeout=30)
            connection.request("POST", "/openai/v1/hold", body=b"{}")
            response = connection.getresponse()
            assert response.readline() == b"event: one\n"
        # the with block's end stopped the broker: the stream was cut, and said so
        assert upstream.ended.wait(10), "the upstream request outlived the stop"
        connection.close()
    assert [line for line in broker.log if " POST /openai/v1/hold 200 " in line], broker.log
    assert not [line for line in broker.log if "rejected" in line], broker.log


def test_a_stop_answers_a_request_still_waiting_at_the_end_of_the_grace(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    """A proxied request whose upstream has not answered yet is not a stream: it did not
    hear the cut either, and took twice the grace. It is answered 503 then, and logged."""
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    answered: list[tuple[int, bytes]] = []
    with running_upstream() as upstream:
        with broker_in_thread(
            service, tmp_path / "b.sock", upstream=upstream.url, limits=Limits(shutdown_grace=0.5)
        ) as broker:
            connection = UnixHTTPConnection(broker.socket, timeout=30)

            def ask() -> None:
                connection.request("POST", "/openai/v1/stall", body=b"{}")
                response = connection.getresponse()
                answered.append((response.status, response.read()))

            asking = threading.Thread(target=ask)
            asking.start()
            wait_until(lambda: upstream.seen, 30.0, "the request upstream")
        asking.join(30)
        connection.close()
    [(status, body)] = answered
    assert status == 503, body
    assert b"the broker stopped before the answer" in body
    assert [line for line in broker.log if " POST /openai/v1/stall 503 " in line], broker.log


def test_the_answer_never_holds_the_logins_token(proxied: Proxied) -> None:
    targets = (
        "/openai/v1/models",
        "/openai/v1/status/500",
        "/openai/v1/../x",
        "/openai/v1/reflect",
    )
    for target in targets:
        answer = unix_request(proxied.socket, "GET", target)
        assert proxied.token() not in answer.raw(), target


class Recorder:
    """A ``ProxyObserver`` that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def refresh(self, outcome: str, error: str = "") -> None:
        self.calls.append(("refresh", (outcome, error)))

    def forwarded(self, client: str, status: int, seconds: float) -> None:
        self.calls.append(("forwarded", (client, status, seconds)))

    def first_byte(self, seconds: float) -> None:
        self.calls.append(("first_byte", (seconds,)))

    def stream_opened(self) -> None:
        self.calls.append(("stream_opened", ()))

    def stream_closed(self) -> None:
        self.calls.append(("stream_closed", ()))


def test_the_observer_hears_each_request_by_client_and_status(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    recorder = Recorder()
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with (
        running_upstream() as upstream,
        broker_in_thread(
            service, tmp_path / "broker.sock", upstream=upstream.url, proxy_observer=recorder
        ) as broker,
    ):
        assert unix_request(broker.socket, "GET", "/openai/v1/status/429").status == 429
        assert unix_request(broker.socket, "GET", "/openai/v1/../x").status == 400
    names = [name for name, _ in recorder.calls]
    # The refused one too: it is counted by its status, nothing was sent.
    assert names == ["first_byte", "stream_opened", "stream_closed", "forwarded", "forwarded"]
    [(client, status, seconds)] = [args for name, args in recorder.calls[3:4]]
    assert isinstance(client, str)
    assert client.startswith("uid=")
    assert status == 429
    assert isinstance(seconds, float)
    assert seconds > 0
    assert upstream.seen[0].target == "/status/429"
    assert recorder.calls[4][1][:2] == (client, 400)


def test_the_observer_hears_the_refresh_a_401_forced(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    recorder = Recorder()
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with (
        running_upstream() as upstream,
        broker_in_thread(
            service, tmp_path / "broker.sock", upstream=upstream.url, proxy_observer=recorder
        ) as broker,
    ):
        # Unavailable once, then new tokens, then a refresh refused as too soon after it.
        issuer.refresh_failure = Failure(503, '{"error": "temporarily_unavailable"}', times=1)
        statuses = []
        for _ in range(3):
            upstream.refuse(stored(home)["tokens"]["access_token"])
            answer = unix_request(broker.socket, "POST", "/openai/v1/responses", body=b"{}")
            statuses.append(answer.status)
    refreshes = [args for name, args in recorder.calls if name == "refresh"]
    assert refreshes == [("failed", "unavailable"), ("refreshed", ""), ("current", "")]
    assert statuses == [503, 200, 401]
