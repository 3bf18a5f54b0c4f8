"""The fake issuer served on 127.0.0.1 from a thread of its own."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from codex_login.testing.issuer.fake import FakeIssuer


_SHUTDOWN_GRACE = 0.5  # seconds a request in flight may still take when the issuer stops


@contextmanager
def running_issuer(
    issuer: FakeIssuer, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeIssuer]:
    """Serve ``issuer`` on 127.0.0.1 from a background thread until the block ends.

    No pytest needed: ``with running_issuer(FakeIssuer()) as issuer: ...``. With
    ``tls`` (a server ``SSLContext``) it serves HTTPS, and ``issuer.url`` says so.
    """
    loop = asyncio.new_event_loop()
    # Stopping does not wait out a handler still answering (a ``Failure`` delayed past
    # the client's timeout): nobody reads that answer, so it is cut off after a moment.
    runner = web.AppRunner(issuer.app(), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        issuer.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    thread = threading.Thread(target=loop.run_forever, name="fake-issuer", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield issuer
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
