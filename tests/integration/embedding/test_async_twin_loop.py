"""The async twin never blocks its caller's event loop, and closes like the blocking one.

While another process holds ``auth.lock``, each async method that reads or writes
under it waits on a worker thread: a 20 ms ticker on the caller's loop keeps ticking.
The other process lets go when the waiting store says it is waiting (its notice), not
after a sleep.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login import AsyncCodexAuth, CodexAuth
from codex_login.adapters import store_core
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.entrypoints.bootstrap import bootstrap
from support.fake_issuer import FakeIssuer
from support.locks import let_go, lock_held_elsewhere
from support.logins import write_login

TICK = 0.02
LONGEST_PAUSE = 0.1

Call = Callable[[AsyncCodexAuth], Awaitable[Any]]


@pytest.fixture(autouse=True)
def prompt_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store says it waits after 0.3 s, not 1 s: still fifteen ticks of a real wait."""
    monkeypatch.setattr(store_core, "WAIT_NOTICE_AFTER", 0.3)


def two_api_keys(home: Path, issuer: FakeIssuer) -> None:
    auth = CodexAuth(codex_home=home, environ={})
    auth.login_with_api_key("sk-first-1234567890")
    auth.login_with_api_key("sk-second-1234567890")


def one_api_key(home: Path, issuer: FakeIssuer) -> None:
    CodexAuth(codex_home=home, environ={}).login_with_api_key("sk-only-1234567890")


def expired_login(home: Path, issuer: FakeIssuer) -> None:
    write_login(
        home, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1), issuer=issuer.url
    )


def nothing(home: Path, issuer: FakeIssuer) -> None:
    return None


async def device_login(auth: AsyncCodexAuth, issuer: FakeIssuer) -> None:
    """The whole device login: the code is approved as soon as it is shown; the commit
    then waits for the lock."""
    await auth.login_with_device_code(show=lambda device: issuer.approve_device(device.user_code))


CASES: dict[str, tuple[Callable[[Path, FakeIssuer], None], Call]] = {
    "login_with_api_key": (nothing, lambda auth: auth.login_with_api_key("sk-new-1234567890")),
    "accounts": (two_api_keys, lambda auth: auth.accounts()),
    "switch": (two_api_keys, lambda auth: auth.switch("api-key")),
    "status": (one_api_key, lambda auth: auth.status()),
    "logout": (one_api_key, lambda auth: auth.logout()),
    "get_token (due)": (expired_login, lambda auth: auth.get_token()),
    "auth (due)": (expired_login, lambda auth: auth.auth()),
    "refresh": (expired_login, lambda auth: auth.refresh()),
}
# Calls that talk to the issuer the service is configured with.
ISSUER_CASES: dict[str, Callable[[AsyncCodexAuth, FakeIssuer], Awaitable[Any]]] = {
    "login_with_device_code": device_login,
}


async def longest_pause(work: Awaitable[Any]) -> float:
    """Run ``work`` beside a ticker on this loop; the longest time between two ticks."""
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(TICK)

    # A full collection of the test run's heap (set off by a refresh's first imports of
    # aiohttp on the worker thread) stops every thread for ~100 ms: not what is measured.
    gc.collect()
    gc.freeze()
    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # its first tick
    try:
        await work
    finally:
        ticking.cancel()
        gc.unfreeze()
    ticks.append(time.monotonic())
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))


@pytest.mark.parametrize("name", [*CASES, *ISSUER_CASES])
def test_an_async_method_waiting_for_the_lock_leaves_the_loop_running(
    home: Path, issuer: FakeIssuer, name: str
) -> None:
    prepare, call = CASES.get(name, (nothing, lambda auth: ISSUER_CASES[name](auth, issuer)))
    prepare(home, issuer)
    with lock_held_elsewhere(home / "auth.lock") as holder:

        def waiting(notice: str) -> None:  # the store says it waits for the held lock
            let_go(holder)

        service = bootstrap(
            codex_home=home,
            environ={},
            notify=waiting,
            issuer=issuer.url,
            client_id=DEFAULT_CLIENT_ID,
        )
        auth = AsyncCodexAuth(service=service)
        pause = asyncio.run(longest_pause(call(auth)))
        asyncio.run(auth.aclose())
    assert pause < LONGEST_PAUSE, f"{name}: the caller's loop stopped for {pause * 1000:.0f} ms"


def test_a_waiting_login_really_waited_for_the_other_process(home: Path) -> None:
    """The measurement above is of a real wait: the other process held the lock."""
    with lock_held_elsewhere(home / "auth.lock") as holder:
        notices: list[str] = []

        def waiting(notice: str) -> None:
            notices.append(notice)
            let_go(holder)

        auth = AsyncCodexAuth(service=bootstrap(codex_home=home, environ={}, notify=waiting))
        asyncio.run(auth.login_with_api_key("sk-new-1234567890"))
    assert len(notices) == 1
    assert "Waiting for" in notices[0]


def codex_login_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "codex-login"]


def test_async_with_closes_the_blocking_twins_it_made(tmp_path: Path, issuer: FakeIssuer) -> None:
    expired_login(tmp_path, issuer)
    before = codex_login_threads()

    async def use() -> None:
        async with AsyncCodexAuth(codex_home=tmp_path, environ={}) as auth:
            blocking = auth.as_blocking()
            await asyncio.to_thread(blocking.get_token)  # starts its background thread
            assert len(codex_login_threads()) == len(before) + 1

    asyncio.run(use())
    assert codex_login_threads() == before


def test_aclose_of_a_blocking_twin_s_async_face_closes_it(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    expired_login(tmp_path, issuer)
    before = codex_login_threads()
    blocking = CodexAuth(codex_home=tmp_path, environ={})
    blocking.get_token()  # a refresh: its background thread runs now
    assert len(codex_login_threads()) == len(before) + 1
    asyncio.run(blocking.as_async().aclose())
    assert codex_login_threads() == before
    assert blocking.get_token()  # usable after, as after close()
    blocking.close()


def test_one_account_s_view_reads_the_accounts_off_the_caller_s_loop(home: Path) -> None:
    """``for_account`` lists and reads the slots (files here; the keyring or Redis
    elsewhere): on a worker thread, not on the thread running the caller's loop."""
    two_api_keys(home, FakeIssuer())
    service = bootstrap(codex_home=home, environ={})
    shelf = service.shelf
    assert shelf is not None
    readers: set[int] = set()
    listed = shelf.names

    def names() -> list[str]:
        readers.add(threading.get_ident())
        return listed()

    shelf.names = names  # type: ignore[method-assign]
    auth = AsyncCodexAuth(service=service)

    async def view() -> tuple[int, str]:
        name = next(a.name for a in await auth.accounts() if not a.active)
        one = await auth.for_account(name)
        return threading.get_ident(), await one.get_token()

    loop_thread, token = asyncio.run(view())
    assert token == "sk-first-1234567890"
    assert readers, "the accounts were never listed"
    assert loop_thread not in readers
