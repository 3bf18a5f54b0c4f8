"""``openai_client()`` and ``aio.openai_client()`` against the testing kit's fake Codex
backend, which refuses any token its issuer does not hold current: sync and async,
streaming and not, and a refresh in between."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

import codex_login
import codex_login.aio
from codex_login import AsyncCodexAuth
from codex_login.testing import SettableClock, SignedIn, signed_in

MODEL = "gpt-5"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def session(clock: SettableClock) -> Iterator[SignedIn]:
    with signed_in(clock=clock) as running:
        yield running


def streamed_text(session: SignedIn) -> str:
    with (
        codex_login.openai_client(session.auth, max_retries=0) as client,
        client.responses.create(model=MODEL, input="hi", stream=True) as stream,
    ):
        return "".join(e.delta for e in stream if e.type == "response.output_text.delta")


def test_the_client_streams_and_answers_whole(session: SignedIn) -> None:
    assert streamed_text(session) == session.backend.text
    with codex_login.openai_client(session.auth, max_retries=0) as client:
        assert client.responses.create(model=MODEL, input="hi").output_text == session.backend.text
    accounts = {r.header("ChatGPT-Account-ID") for r in session.backend.requests_to("/responses")}
    status = session.auth.status()
    assert status is not None
    assert accounts == {status.account_id}


def test_the_async_client_streams_and_answers_whole(
    session: SignedIn, clock: SettableClock
) -> None:
    async def both() -> tuple[str, str]:
        twin = AsyncCodexAuth(
            codex_home=session.home, issuer=session.issuer.url, clock=clock, environ={}
        )
        async with twin, await codex_login.aio.openai_client(twin, max_retries=0) as client:
            stream = await client.responses.create(model=MODEL, input="hi", stream=True)
            deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
            whole = await client.responses.create(model=MODEL, input="hi")
        return "".join(deltas), whole.output_text

    assert asyncio.run(both()) == (session.backend.text, session.backend.text)
    assert session.issuer.posts("refresh_token") == []


def test_an_expired_token_is_refreshed_once_and_the_next_call_streams(
    session: SignedIn, clock: SettableClock
) -> None:
    assert streamed_text(session) == session.backend.text
    clock.advance(timedelta(hours=2))  # past the access token's hour, for both sides
    assert streamed_text(session) == session.backend.text
    assert len(session.issuer.posts("refresh_token")) == 1
    sent = [r.header("Authorization") for r in session.backend.requests_to("/responses")]
    assert len(sent) == 2  # refreshed before the call: no refused request
    assert sent[0] != sent[1]
