"""The proxy's hot path does each thing once per request: the relay rules judged once,
one deadline for the whole stream copy, the last piece sent with the terminating chunk.

A real ``Broker`` on a Unix socket (in a thread), a real loopback upstream
(``support.proxy_upstream``) and the fake issuer; the proxy's own calls are counted by
wrapping them in this process (the broker's thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.proxy import body, forward, relay, stream
from support.broker import ThreadBroker, UnixHTTPConnection, broker_in_thread, unix_request
from support.fake_issuer import FakeIssuer
from support.proxy_upstream import Upstream, running_upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as running:
        yield running


@pytest.fixture
def broker(
    tmp_path: Path, home: Path, issuer: FakeIssuer, upstream: Upstream
) -> Iterator[ThreadBroker]:
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with broker_in_thread(
        service, tmp_path / "broker.sock", upstream=f"{upstream.url}/base"
    ) as running:
        yield running


def counting(calls: list[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return function(*args, **kwargs)

    return counted


class CountingAsyncio(ModuleType):
    """``asyncio`` as the proxy's modules see it, its timeouts counted."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__("asyncio")
        self.timeout = counting(calls, "timeout", asyncio.timeout)
        self.timeout_at = counting(calls, "timeout_at", asyncio.timeout_at)

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def test_the_relay_rules_are_judged_once_per_request(
    broker: ThreadBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(relay, "refusal", counting(calls, "refusal", relay.refusal))
    assert unix_request(broker.socket, "GET", "/openai/v1/models").status == 200
    assert calls == ["refusal"]
    refused = unix_request(broker.socket, "GET", "/openai/v1/a/%2e%2e/b")
    assert refused.status == 400  # judged once still refuses
    assert calls == ["refusal", "refusal"]


def test_a_stream_is_copied_under_one_deadline_not_one_per_read(
    broker: ThreadBroker, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two events sent apart (three reads: one, two, the end): the body's wait, the
    first byte's, and one for the whole copy."""
    calls: list[str] = []
    counted = CountingAsyncio(calls)
    for module in (body, forward, stream):  # the body's wait, the first byte's, the copy's
        monkeypatch.setattr(module, "asyncio", counted)
    connection = UnixHTTPConnection(broker.socket, timeout=10)
    try:
        connection.request("POST", "/openai/v1/stream", body=b"{}")
        response = connection.getresponse()
        assert response.readline() == b"event: one\n"
        upstream.release.set()
        assert response.read() == b'data: {"n": 1}\n\nevent: two\ndata: {"n": 2}\n\n'
    finally:
        connection.close()
    assert len(calls) == 3, calls


def test_the_last_piece_goes_with_the_terminating_chunk(
    broker: ThreadBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body the upstream sends whole: write_eof with it, no write before (which was one
    more send to the client, and one more wake-up of it)."""
    calls: list[str] = []
    monkeypatch.setattr(
        web.StreamResponse, "write", counting(calls, "write", web.StreamResponse.write)
    )
    monkeypatch.setattr(
        web.StreamResponse, "write_eof", counting(calls, "write_eof", web.StreamResponse.write_eof)
    )
    answer = unix_request(broker.socket, "POST", "/openai/v1/responses", body=b'{"model": "m"}')
    assert answer.status == 200
    assert b'"target": "/base/responses"' in answer.body
    assert "write" not in calls  # (aiohttp calls write_eof again once the route returns)
    assert calls[0] == "write_eof"


@pytest.mark.parametrize("target", ["/x/../openai/v1/models", "/%6fpenai/v1/models"])
def test_a_target_only_the_router_puts_under_openai_is_still_judged(
    broker: ThreadBroker, upstream: Upstream, target: str
) -> None:
    """The middleware judges raw targets under /openai; the route judges what the router
    resolved there (the route's judgement is not the one saved)."""
    assert unix_request(broker.socket, "GET", target).status in (400, 404)
    assert upstream.seen == []
