"""Serving a fake on 127.0.0.1 from a thread of its own: the fake issuer's and the fake
backend's one server recipe (aiohttp's ``AppRunner`` and ``TCPSite`` on port 0)."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

__all__ = ["serving"]

_SHUTDOWN_GRACE = 0.5  # seconds a request in flight may still take when the server stops
_WAIT = 30.0  # the bound on starting and stopping


@contextmanager
def serving(app: web.Application, *, name: str, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port until the block ends; yields its URL
    (``http://127.0.0.1:PORT``, or ``https://`` with a server ``tls`` context)."""
    loop = asyncio.new_event_loop()
    # Stopping does not wait out a handler still answering (a scripted delay past the
    # client's timeout): nobody reads that answer, so it is cut off after a moment.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        return f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"

    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=_WAIT)
        try:
            yield url
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=_WAIT)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_WAIT)
        loop.close()
