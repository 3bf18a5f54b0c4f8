"""The pasted redirect in-process: the application's race and the embedding API.

Real sockets on 127.0.0.1 and the fake issuer; pastes come from a queue the test
fills, as a program with its own text field would.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator

import pytest

from codex_login import AsyncCodexAuth, CodexAuth
from codex_login.application.signin import LoginOutcome
from codex_login.domain.errors import AuthorizationDenied, LoginTimedOut
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.stores import MemoryCredentialStore
from support.fake_issuer import FakeIssuer
from support.redirects import redirected
from support.waiting import wait_until


def redirect_of(authorize_url: str) -> str:
    """Where the issuer sends the browser after the user approves (not requested)."""
    return redirected(authorize_url)


async def lines(pastes: asyncio.Queue[str | None]) -> AsyncIterator[str]:
    """What a text field hands over, until None (the field is gone)."""
    while (line := await pastes.get()) is not None:
        yield line


class Pasting:
    """An async login whose announced URL the test can paste the redirect of."""

    def __init__(self, auth: AsyncCodexAuth) -> None:
        self.pastes: asyncio.Queue[str | None] = asyncio.Queue()
        self.refusals: list[str] = []
        self.urls: asyncio.Queue[str] = asyncio.Queue()
        self.task: asyncio.Task[LoginOutcome] = asyncio.create_task(
            auth.login_in_browser(
                announce=lambda url, port: self.urls.put_nowait(url),
                open_browser=False,
                port=0,
                timeout=30,
                pasted=lines(self.pastes),
                refused=self.refusals.append,
            )
        )

    async def redirect(self) -> str:
        return await asyncio.to_thread(redirect_of, await self.urls.get())


def auth_for(issuer: FakeIssuer, store: MemoryCredentialStore) -> AsyncCodexAuth:
    return AsyncCodexAuth(store=store, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={})


def test_a_paste_completes_an_async_login(issuer: FakeIssuer) -> None:
    store = MemoryCredentialStore()

    async def scenario() -> LoginOutcome:
        login = Pasting(auth_for(issuer, store))
        login.pastes.put_nowait("not an address")
        login.pastes.put_nowait(await login.redirect())
        outcome = await login.task
        assert len(login.refusals) == 1
        assert "carries no sign-in response" in login.refusals[0]
        return outcome

    outcome = asyncio.run(scenario())
    assert store.saved[-1].tokens is not None
    assert outcome.id_token.email == "user@example.com"


def test_pastes_ending_leave_the_login_to_the_callback(issuer: FakeIssuer) -> None:
    store = MemoryCredentialStore()

    async def scenario() -> LoginOutcome:
        login = Pasting(auth_for(issuer, store))
        url = await login.urls.get()
        login.pastes.put_nowait(None)  # the source of pastes is gone
        await asyncio.to_thread(issuer.approve, url)  # the browser reaches us after all
        return await login.task

    assert asyncio.run(scenario()).id_token.email == "user@example.com"
    assert len(store.saved) == 1


def test_a_pasted_error_ends_the_login(issuer: FakeIssuer) -> None:
    issuer.authorize_error = "access_denied"
    store = MemoryCredentialStore()

    async def scenario() -> None:
        login = Pasting(auth_for(issuer, store))
        login.pastes.put_nowait(await login.redirect())
        with pytest.raises(AuthorizationDenied, match="access_denied"):
            await login.task

    asyncio.run(scenario())
    assert store.saved == []


def test_the_time_limit_holds_while_pastes_are_awaited(issuer: FakeIssuer) -> None:
    async def scenario() -> None:
        auth = auth_for(issuer, MemoryCredentialStore())
        pastes: asyncio.Queue[str | None] = asyncio.Queue()
        with pytest.raises(LoginTimedOut):
            await auth.login_in_browser(
                announce=lambda url, port: None,
                open_browser=False,
                port=0,
                timeout=0.5,
                pasted=lines(pastes),
            )

    asyncio.run(scenario())


def test_a_callback_and_a_paste_in_flight_together_make_one_exchange(
    issuer: FakeIssuer,
) -> None:
    held = threading.Event()
    issuer.gates["code"] = held
    store = MemoryCredentialStore()

    async def scenario() -> LoginOutcome:
        login = Pasting(auth_for(issuer, store))
        redirect = await login.redirect()
        # The browser's callback, answered once the exchange is done (to /success).
        browser = asyncio.ensure_future(asyncio.to_thread(redirected, redirect))
        await asyncio.to_thread(
            wait_until,
            lambda: len(issuer.posts("authorization_code")) == 1,
            timeout=30,
            what="the callback's code exchange",
        )
        login.pastes.put_nowait(redirect)  # the same code, while the exchange is held
        held.set()
        outcome = await login.task
        assert (await browser).startswith("/success?")
        return outcome

    asyncio.run(scenario())
    assert len(issuer.posts("authorization_code")) == 1
    assert len(store.saved) == 1


def test_the_blocking_twin_reads_pastes_from_an_iterable(issuer: FakeIssuer) -> None:
    store = MemoryCredentialStore()
    pastes: queue.Queue[str | None] = queue.Queue()
    refusals: list[str] = []

    def paste_the_redirect(url: str, port: int) -> None:
        pastes.put("")
        pastes.put(redirect_of(url))

    with CodexAuth(store=store, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}) as auth:
        outcome = auth.login_in_browser(
            announce=paste_the_redirect,
            open_browser=False,
            port=0,
            timeout=30,
            pasted=iter(pastes.get, None),
            refused=refusals.append,
        )
    assert outcome.id_token.email == "user@example.com"
    assert refusals == []  # a blank line is no paste
    assert store.saved[-1].tokens is not None
