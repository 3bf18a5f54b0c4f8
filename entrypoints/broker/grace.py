"""The end of the shutdown grace: what still runs is answered then, not 30 s later.

aiohttp's shutdown waits its bound for a request's handler, cancels it, and waits as long
again; a proxied stream does not hear that cancel (it reads the upstream, not the
request). So at the grace's end the broker cuts what still runs itself: a stream ends as
if its client had left, any other request is answered 503, and each is logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.entrypoints.broker.admission import Connection
from codex_login.entrypoints.broker.answers import error
from codex_login.entrypoints.http_answers import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Grace:
    """The broker's part that ends the shutdown grace (mixed into ``Broker`` through
    ``Guard``, which answers each request through ``_until_cut``)."""

    _connections: dict[RequestHandler, Connection]
    _in_flight: dict[asyncio.Task[Any], bool]  # each request's task: True once it streams
    _grace_over: bool

    _answer: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]  # Guard's

    async def _until_cut(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The answer; a 503 when the broker stops first (``_cut``, at the grace's end)."""
        task = asyncio.current_task()
        assert task is not None  # noqa: S101  (a handler runs in a task)
        self._in_flight[task] = False
        try:
            return await self._answer(request, handler)
        except asyncio.CancelledError:
            if not self._grace_over or self._in_flight.get(task):
                raise  # not ours: the client went, or aiohttp's own bound
            task.uncancel()
            stopped = error("unavailable", "the broker stopped before the answer; try again")
            return json_response(503, stopped, retry_after=True)
        finally:
            self._in_flight.pop(task, None)

    def _cut(self) -> None:
        """The shutdown grace is over: aiohttp would cancel what is still running and wait
        as long again, and a stream does not hear that. A stream ends now as if its client
        left; any other request is answered 503. Each gets its access-log line."""
        self._grace_over = True
        for connection in list(self._connections.values()):
            for callback in list(connection.lost):
                callback()
        for task, streaming in list(self._in_flight.items()):
            if not streaming:
                task.cancel()
