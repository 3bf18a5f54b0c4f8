"""The upstream's answer streamed back to the client as it arrives.

One deadline for the whole copy, moved a gap ahead before each read from the upstream
and lifted while the client is written to; a client that leaves cancels the upstream
request; a header that reflects the login's token is never passed on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web

from codex_login.entrypoints.proxy import answers
from codex_login.entrypoints.proxy.observer import ProxyObserver
from codex_login.entrypoints.proxy.upstream import hop_by_hop

OnDisconnect = Callable[[web.Request, Callable[[], None]], Callable[[], None]]


async def stream_back(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    *,
    secret: str,
    gap: float,
    on_disconnect: OnDisconnect,
    observer: ProxyObserver,
) -> web.StreamResponse:
    """The upstream's answer, each piece written to the client as it arrives; a
    client that leaves cancels the upstream request. A header that reflects the
    login's token (``secret``) is dropped."""
    answer = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    drop = hop_by_hop(upstream.headers) | {"content-length"}
    for name, value in upstream.headers.items():
        if name.lower() not in drop and secret not in value:
            answer.headers.add(name, value)
    task = asyncio.current_task()
    left = False

    def cut() -> None:
        nonlocal left
        left = True
        if task is not None:
            task.cancel()

    forget = on_disconnect(request, cut)
    observer.stream_opened()
    copied: bool | None = False
    try:
        copied = await _copy(request, upstream, answer, gap)
        if copied is None:  # nothing sent to the client yet: it can hear why
            return answers.too_slow(upstream.url.host or "?", "send its answer")
    except asyncio.CancelledError:
        if not left or task is None:
            raise
        task.uncancel()  # the client left: nothing more to do for it
    except (ConnectionError, aiohttp.ClientError):
        pass  # the client or the upstream broke off
    finally:
        forget()
        if copied:
            upstream.release()  # its connection goes back to the pool, for the next
        else:
            upstream.close()  # an unfinished upstream request ends here
        observer.stream_closed()
    if copied:
        return answer
    if not answer.prepared and not left:  # the upstream broke off before its body
        return answers.broke_off(upstream.url.host or "?")
    answers.cut_short(request, answer)
    return answer


async def _copy(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    answer: web.StreamResponse,
    gap: float,
) -> bool | None:
    """Copy the upstream's body to the client, each piece as it arrives: True when
    complete, False when the upstream fell silent for longer than ``gap``, None when
    it did before its first piece (``answer`` not yet prepared).

    One deadline for the whole copy, moved to a gap ahead before each read and lifted
    while the client is written to; the last piece goes with the terminating chunk."""
    loop = asyncio.get_running_loop()
    content = upstream.content
    try:
        async with asyncio.timeout_at(loop.time() + gap) as deadline:
            piece = await content.readany()
            deadline.reschedule(None)
            await answer.prepare(request)
            while piece and not content.at_eof():
                await answer.write(piece)
                deadline.reschedule(loop.time() + gap)
                piece = await content.readany()
                deadline.reschedule(None)
    except TimeoutError:
        return False if answer.prepared else None
    await answer.write_eof(piece)
    return True
