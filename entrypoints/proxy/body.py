"""The client's request body, read whole before anything is sent upstream: bounded in
size (an upstream 401 sends it again) and in time (a client that trickles it is cut)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from codex_login.entrypoints.proxy.answers import closing, too_large, too_slow_body


async def read_body(
    request: web.Request, *, limit: int, wait: float
) -> bytes | web.StreamResponse | None:
    """The request body (None: there is none), or the answer refusing it: 413 beyond
    ``limit`` bytes (nothing read past it), 408 when it does not come in ``wait`` s."""
    if request.content_length is not None and request.content_length > limit:
        return closing(too_large(limit))
    if not request.body_exists:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(wait):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    return closing(too_large(limit))
                chunks.append(chunk)
    except TimeoutError:
        return closing(too_slow_body())
    return b"".join(chunks)
