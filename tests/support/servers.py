"""The one way the tests serve something on loopback: from a thread of its own.

``serve_in_thread`` takes an aiohttp application (served by an event loop in a
thread) or an ``http.server`` server (its ``serve_forever`` in a thread), listening
on 127.0.0.1 at a free port, and yields its URL until the block ends.
``loop_in_thread`` is the event loop alone, for servers that start themselves
(the broker on a Unix socket).
"""

from __future__ import annotations

import asyncio
import socketserver
import ssl
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

WAIT = 30.0  # the bound on starting and stopping a server
T = TypeVar("T")


@contextmanager
def loop_in_thread(name: str = "loopback") -> Iterator[asyncio.AbstractEventLoop]:
    """A running event loop in a daemon thread, stopped and closed when the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=WAIT)
        loop.close()


def run_in(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T], timeout: float = WAIT
) -> T:
    """Run ``coroutine`` on ``loop`` (in its thread) and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=timeout)


@contextmanager
def serve_in_thread(
    server: web.Application | socketserver.TCPServer,
    *,
    name: str = "loopback",
    tls: ssl.SSLContext | None = None,
    handler_cancellation: bool = False,
) -> Iterator[str]:
    """Serve ``server`` on 127.0.0.1 from a thread; yields ``http://127.0.0.1:<port>``.
    ``handler_cancellation`` (aiohttp): a handler is cancelled when its client leaves."""
    if isinstance(server, web.Application):
        with _serve_app(server, name, tls, handler_cancellation) as url:
            yield url
        return
    with _serve_socketserver(server, name) as url:
        yield url


@contextmanager
def _serve_app(
    app: web.Application, name: str, tls: ssl.SSLContext | None, handler_cancellation: bool
) -> Iterator[str]:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=handler_cancellation)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        return f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"

    with loop_in_thread(name) as loop:
        try:
            yield run_in(loop, start())
        finally:
            run_in(loop, runner.cleanup())


@contextmanager
def _serve_socketserver(server: socketserver.TCPServer, name: str) -> Iterator[str]:
    """``server`` is already bound (``("127.0.0.1", 0)``); it is shut down and closed after."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)
