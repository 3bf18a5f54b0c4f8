"""The proxy's failures: an unreachable upstream (502 naming its host), each bounded wait
(504, or a stream cut short), a client that leaves, a login that ended (401 with the
broker's error codes), and SIGTERM letting the streams in flight finish (a real
``codex-login serve`` child).
"""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Limits
from support.broker import (
    ThreadBroker,
    UnixHTTPConnection,
    answer_on,
    broker_in_thread,
    connect,
    free_port,
    read_to_end,
    running_broker,
    unix_request,
)
from support.cli import run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored
from support.proxy_upstream import running_upstream

QUICK = Limits(upstream_connect=0.3, upstream_first_byte=0.5, upstream_gap=0.5)


@contextmanager
def proxy_to(
    tmp_path: Path, home: Path, issuer: FakeIssuer, upstream: str, limits: Limits = QUICK
) -> Iterator[ThreadBroker]:
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with broker_in_thread(
        service, tmp_path / "broker.sock", upstream=upstream, limits=limits
    ) as broker:
        yield broker


def test_an_unreachable_upstream_is_a_502_naming_its_host(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    with proxy_to(tmp_path, home, issuer, f"http://127.0.0.1:{free_port()}/base") as broker:
        answer = unix_request(broker.socket, "GET", "/openai/v1/models")
    assert answer.status == 502
    assert answer.json() == {
        "error": "upstream_unreachable",
        "message": "cannot reach the upstream 127.0.0.1",
    }
    assert stored(home)["tokens"]["access_token"] not in answer.raw()


def test_an_upstream_that_does_not_accept_the_connection_is_a_504(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    # A listener with a full backlog: the kernel drops further SYNs, connect() waits.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with (
            socket.create_connection(("127.0.0.1", port)),  # fills the backlog
            proxy_to(tmp_path, home, issuer, f"http://127.0.0.1:{port}") as broker,
        ):
            answer = unix_request(broker.socket, "GET", "/openai/v1/models")
    assert answer.status == 504
    assert answer.json()["error"] == "upstream_timeout"
    assert "127.0.0.1" in answer.json()["message"]


def test_an_upstream_that_does_not_begin_its_answer_is_a_504_and_is_cancelled(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    with running_upstream() as upstream, proxy_to(tmp_path, home, issuer, upstream.url) as broker:
        answer = unix_request(broker.socket, "POST", "/openai/v1/stall", body=b"{}")
        assert answer.status == 504
        assert answer.json() == {
            "error": "upstream_timeout",
            "message": "the upstream 127.0.0.1 did not begin its answer in time",
        }
        assert upstream.ended.wait(10), "the stalled upstream request was not ended"


def test_an_upstream_silent_after_its_headers_is_a_504_and_is_cancelled(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    with running_upstream() as upstream, proxy_to(tmp_path, home, issuer, upstream.url) as broker:
        answer = unix_request(broker.socket, "POST", "/openai/v1/silent", body=b"{}")
        assert answer.status == 504
        assert answer.json() == {
            "error": "upstream_timeout",
            "message": "the upstream 127.0.0.1 did not send its answer in time",
        }
        assert upstream.ended.wait(10), "the silent upstream request was not ended"


def test_an_upstream_silent_mid_stream_is_cut_and_the_client_sees_it_unfinished(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    with running_upstream() as upstream, proxy_to(tmp_path, home, issuer, upstream.url) as broker:
        connection = UnixHTTPConnection(broker.socket, timeout=10)
        try:
            connection.request("POST", "/openai/v1/hold", body=b"{}")
            response = connection.getresponse()
            assert response.status == 200
            assert response.readline() == b"event: one\n"
            with pytest.raises(http.client.IncompleteRead):
                response.read()  # the gap passes: no last chunk, the connection closes
        finally:
            connection.close()
        assert upstream.ended.wait(10), "the silent upstream request was not ended"
        assert unix_request(broker.socket, "GET", "/openai/v1/models").status == 200


def test_a_login_that_ended_is_a_401_with_the_brokers_error_codes(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    with running_upstream() as upstream, proxy_to(tmp_path, home, issuer, upstream.url) as broker:
        (home / "auth.json").unlink()
        answer = unix_request(broker.socket, "GET", "/openai/v1/models")
        token_route = unix_request(broker.socket, "GET", "/v1/token")
        assert upstream.seen == []
    assert answer.status == 401
    assert token_route.status == 401
    assert answer.json() == token_route.json()


def test_sigterm_lets_a_stream_in_flight_finish(home: Path, issuer: FakeIssuer) -> None:
    with running_upstream() as upstream:
        args = ("--upstream", f"{upstream.url}/base")
        with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
            assert broker.socket is not None
            connection = UnixHTTPConnection(broker.socket, timeout=20)
            try:
                connection.request("POST", "/openai/v1/stream", body=b"{}")
                response = connection.getresponse()
                assert response.readline() == b"event: one\n"
                broker.send(signal.SIGTERM)
                broker.wait_for_line(lambda line: line.startswith("Stopping"))
                assert broker.process.poll() is None  # waiting for the stream
                upstream.release.set()
                rest = response.read()
            finally:
                connection.close()
            assert rest.endswith(b'event: two\ndata: {"n": 2}\n\n')
            # Told once: a second SIGTERM (stop()) could land after its handler is gone.
            assert broker.exit_code(timeout=20) == 0
            assert "Traceback" not in broker.stderr()


@pytest.mark.parametrize(
    ("upstream", "problem"),
    [
        ("http://example.com/v1", "must be https://"),
        ("ftp://127.0.0.1/v1", "must be an http(s) URL"),
        ("https://user:pw@example.com/", "must not carry user info"),
    ],
)
def test_an_upstream_that_is_not_https_or_loopback_is_refused_in_one_line(
    home: Path, upstream: str, problem: str
) -> None:
    result = run_in_process("serve", "--upstream", upstream, home=home)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert f"--upstream: {problem}" in line
    assert "pw" not in line
    assert not (home / "broker.sock").exists()


def test_the_token_routes_timeout_does_not_cut_a_proxied_request(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    """A token request gets 503 after ``request_timeout``; a proxied one waits for the
    upstream by its own bounds (here a longer first-byte wait, then 504)."""
    limits = Limits(request_timeout=0.2, upstream_first_byte=1.0)
    with (
        running_upstream() as upstream,
        proxy_to(tmp_path, home, issuer, upstream.url, limits) as broker,
    ):
        answer = unix_request(broker.socket, "POST", "/openai/v1/stall", body=b"{}")
    assert answer.status == 504
    assert answer.json()["error"] == "upstream_timeout"


def test_a_body_that_comes_too_slowly_is_408_and_nothing_is_sent(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    limits = Limits(request_timeout=0.3)
    with (
        running_upstream() as upstream,
        proxy_to(tmp_path, home, issuer, upstream.url, limits) as broker,
    ):
        head = (
            b"POST /openai/v1/responses HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n"
        )
        with connect(broker.socket) as sock:
            sock.sendall(head + b"{")  # nine bytes do not come in time
            answer = answer_on(sock, "POST")
            sock.sendall(b"}" * 9)  # then they do: the broker reads them away and closes
            assert read_to_end(sock) == b""
        assert answer is not None
        assert answer.status == 408
        assert upstream.seen == []


def test_an_https_upstream_is_verified_with_the_extra_ca_bundle(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with running_upstream(tls=context) as upstream:
        with broker_in_thread(service, tmp_path / "a.sock", upstream=upstream.url) as broker:
            unknown = unix_request(broker.socket, "GET", "/openai/v1/models")
        with broker_in_thread(
            service, tmp_path / "b.sock", upstream=upstream.url, upstream_ca_file=str(ca_file)
        ) as broker:
            trusted = unix_request(broker.socket, "GET", "/openai/v1/models")
    assert unknown.status == 502
    assert trusted.status == 200
    assert [seen.target for seen in upstream.seen] == ["/models"]
