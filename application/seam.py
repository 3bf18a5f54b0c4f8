"""The one seam between blocking code and coroutines: an event loop on a daemon thread.

A blocking caller (the blocking twin, a worker thread holding the store lock)
hands a coroutine to ``run`` and waits for its result; a coroutine on any other
loop awaits ``call``. The loop starts on first use and lives until ``close()``
(or the interpreter's exit, or the seam being dropped), which first runs the
registered clean-ups on it, so the HTTP session made there is closed there.

``SeamEndpoint`` sends every token-endpoint request through it: whatever loop
its caller is on, the requests run on this one, so the endpoint's one HTTP
session is only ever used on the loop that made it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

# asyncio (with ssl) costs more than a read-only command's whole run: loaded when used.
# So do concurrent.futures (it loads logging) and contextvars.
if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future, ThreadPoolExecutor

    from codex_login.domain.device import DeviceCode, DevicePending
    from codex_login.domain.issuer import IssuerConfig
    from codex_login.domain.login import AuthorizationRequest
    from codex_login.domain.ports import TokenEndpoint
    from codex_login.domain.tokens import TokenGrant

T = TypeVar("T")
CleanUp = Callable[[], Awaitable[None]]
THREAD_NAME = "codex-login"
# How long a close lets work in flight finish (a refresh whose tokens must be committed)
# before cancelling it, and waits for the clean-ups and the thread: a hung socket must
# not hang the exit, nor a waiter wait forever on a stopped loop.
IN_FLIGHT_GRACE = 10.0
CLOSE_TIMEOUT = 30.0


# Blocking work awaited by a coroutine (a lock wait, a file, the keyring, Redis) runs on
# threads of its own, never on a loop's default executor: a worker holding the store lock
# waits there for a POST on the seam's loop, whose name lookups need that loop's default
# executor, so sharing one pool could leave the POST no thread (a deadlock).
WORKERS = 64
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_pending: set[Future[Any]] = set()


async def off_loop(func: Callable[..., T], /, *args: Any) -> T:
    """Await ``func(*args)`` run on one of codex-login's worker threads (with the caller's
    context variables), leaving the caller's loop free."""
    import asyncio  # noqa: PLC0415  (see the import block)
    import contextvars  # noqa: PLC0415

    context = contextvars.copy_context()
    done = _workers().submit(context.run, func, *args)
    _pending.add(done)
    done.add_done_callback(_pending.discard)
    return await asyncio.wrap_future(done)


def settle(timeout: float | None = None) -> None:
    """Wait for the blocking work in flight, e.g. a refresh's commit after its caller
    gave up (a command interrupted with Ctrl-C says whether it was saved)."""
    if not _pending:
        return
    from concurrent.futures import wait  # noqa: PLC0415  (see the import block)

    wait(list(_pending), timeout=timeout)


def _workers() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603  (one pool per process, made when first needed)
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"{THREAD_NAME}-io")
        return _pool


class Seam:
    """A long-lived event loop on a daemon thread, started when first needed.

    A child made by ``fork()`` has none of its parent's threads: there the seam forgets
    the parent's loop (without stopping it: it is the parent's) and starts its own when
    next used, as the worker pool does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: weakref.finalize[Any, Seam] | None = None
        self._cleanups: list[CleanUp] = []
        _seams.add(self)

    def __repr__(self) -> str:
        return f"Seam(running={self._loop is not None})"

    def on_close(self, cleanup: CleanUp) -> None:
        """Run ``cleanup()`` on the loop each time it closes (once, however often added)."""
        with self._lock:
            if cleanup not in self._cleanups:
                self._cleanups.append(cleanup)

    def on_own_thread(self) -> bool:
        """Whether the caller runs on this seam's loop thread."""
        thread = self._thread
        return thread is not None and thread is threading.current_thread()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the seam's loop and block this thread for its result."""
        if self.on_own_thread():
            work.close()
            raise RuntimeError(
                "Seam.run() was called on the seam's own loop thread, which it would block "
                "forever; await the coroutine there instead"
            )
        import asyncio  # noqa: PLC0415  (see the import block)

        return asyncio.run_coroutine_threadsafe(work, self.loop()).result()

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` on the seam's loop, from whatever loop the caller is on."""
        import asyncio  # noqa: PLC0415  (see the import block)

        loop = self.loop()
        if asyncio.get_running_loop() is loop:
            return await work
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    def loop(self) -> asyncio.AbstractEventLoop:
        """The seam's running loop, started now if need be."""
        with self._lock:
            if self._loop is None:
                self._start()
            assert self._loop is not None  # noqa: S101  (_start set it)
            return self._loop

    def _start(self) -> None:
        import asyncio  # noqa: PLC0415  (see the import block)

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=THREAD_NAME, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        # Also at the interpreter's exit, or when the seam is dropped unclosed: the
        # finalizer holds the loop, not the seam.
        self._stop = weakref.finalize(self, _stop, loop, thread, self._cleanups)

    def _forget_the_parents_loop(self) -> None:
        """In a forked child: the loop and its thread stayed in the parent."""
        self._lock = threading.Lock()  # may have been held by a parent's thread
        if self._stop is not None:
            self._stop.detach()  # nothing to stop here, nor to wait for at exit
        self._loop = self._thread = self._stop = None

    def close(self) -> None:
        """Run the clean-ups on the loop, stop it and join its thread. A later call
        starts a new one."""
        with self._lock:
            stop, self._stop = self._stop, None
            self._loop = self._thread = None
        if stop is not None:
            stop()


_seams: weakref.WeakSet[Seam] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """The parent's threads did not come along: its pool's workers and seams' loops."""
    global _pool, _pool_lock, _pending  # the process's own, anew
    _pool, _pool_lock, _pending = None, threading.Lock(), set()
    for seam in list(_seams):
        seam._forget_the_parents_loop()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _stop(
    loop: asyncio.AbstractEventLoop, thread: threading.Thread, cleanups: list[CleanUp]
) -> None:
    import asyncio  # noqa: PLC0415  (see the import block)

    if loop.is_closed():
        return
    if thread is threading.current_thread():  # dropped on its own thread: cannot wait here
        loop.create_task(_clean_up_and_stop(loop, cleanups))
        return
    with contextlib.suppress(Exception):  # a clean-up that failed must not stop the close
        asyncio.run_coroutine_threadsafe(_clean_up(cleanups), loop).result(CLOSE_TIMEOUT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(CLOSE_TIMEOUT)
    if not thread.is_alive():
        loop.close()


async def _clean_up(cleanups: list[CleanUp]) -> None:
    """Let the work in flight finish (or cancel it after a grace), then run the clean-ups."""
    import asyncio  # noqa: PLC0415  (see the import block)

    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        _, late = await asyncio.wait(others, timeout=IN_FLIGHT_GRACE)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=IN_FLIGHT_GRACE)
    for cleanup in list(cleanups):
        try:
            await cleanup()
        except Exception:  # noqa: S112  (each clean-up gets its turn)
            continue


async def _clean_up_and_stop(loop: asyncio.AbstractEventLoop, cleanups: list[CleanUp]) -> None:
    await _clean_up(cleanups)
    loop.stop()


class SeamEndpoint:
    """A ``TokenEndpoint`` whose requests all run on one seam's loop.

    The wrapped endpoint's ``aclose()`` (its HTTP session), when it has one, runs
    when the seam closes.
    """

    def __init__(self, inner: TokenEndpoint, seam: Seam) -> None:
        self.inner = inner
        self.seam = seam
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            seam.on_close(aclose)

    def __repr__(self) -> str:
        return f"SeamEndpoint({self.inner!r})"

    async def authorization_request(
        self, issuer: IssuerConfig, *, redirect_uri: str
    ) -> AuthorizationRequest:
        return await self.seam.call(
            self.inner.authorization_request(issuer, redirect_uri=redirect_uri)
        )

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        return await self.seam.call(
            self.inner.exchange_code(
                issuer, code=code, redirect_uri=redirect_uri, verifier=verifier
            )
        )

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        return await self.seam.call(self.inner.exchange_api_key(issuer, id_token=id_token))

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        return await self.seam.call(self.inner.refresh(issuer, refresh_token=refresh_token))

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        await self.seam.call(self.inner.revoke(issuer, token=token, hint=hint))

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        return await self.seam.call(self.inner.start_device_authorization(issuer))

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        return await self.seam.call(self.inner.poll_device_authorization(issuer, device))
