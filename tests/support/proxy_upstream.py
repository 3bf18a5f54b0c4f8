"""A loopback model API for the proxy's tests: it records every request and answers by
path, so each test can make it refuse, fail, stream, hold back or stall.

    with running_upstream() as upstream:
        ... upstream.url, upstream.seen, upstream.refuse(token), upstream.release.set()

Paths (under whatever base the proxy forwards to):

- ``/status/<code>``: that status, with a JSON body naming it;
- ``/stream``: two SSE events; the second only once ``release`` is set;
- ``/hold``: one SSE event, then nothing until the request ends (``ended`` is set then);
- ``/stall``: never answers (until the request ends);
- ``/silent``: its headers, then nothing (until the request ends);
- ``/reflect``: 200, the ``Authorization`` it received in an ``X-Seen`` header;
- anything else: 200 with a JSON echo of what arrived, plus hop-by-hop headers that must
  not reach the client.

A bearer token told to ``refuse`` (every one with ``refuse_every_token``) gets 401 on
every path. Served with handler cancellation, so a request whose connection closes ends
at once (``ended``).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from aiohttp import web

from support.servers import serve_in_thread

WAIT = 30.0


@attrs.frozen
class Seen:
    method: str
    target: str  # the raw path and query, as received
    headers: dict[str, str]  # names lower-cased
    body: bytes
    connection: int  # the client's port: which connection it came on


class Upstream:
    def __init__(self) -> None:
        self.url = ""
        self.release = threading.Event()
        self.ended = threading.Event()
        self.first_sent = threading.Event()
        self._refused: set[str] = set()
        self.refuse_every_token = False
        self._seen: list[Seen] = []
        self._lock = threading.Lock()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def refuse(self, token: str) -> None:
        with self._lock:
            self._refused.add(token)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            port = peer[1] if isinstance(peer, tuple) else 0
            self._seen.append(Seen(request.method, request.raw_path, headers, body, port))
            token = headers.get("authorization", "").removeprefix("Bearer ")
            refused = self.refuse_every_token or token in self._refused
        if refused:
            return web.json_response({"error": {"code": "token_expired"}}, status=401)
        path = request.path
        if "/status/" in path:
            code = int(path.rsplit("/", 1)[1])
            return web.json_response({"status": code}, status=code)
        if path.endswith("/stream"):
            return await self._stream(request)
        if path.endswith("/hold"):
            return await self._hold(request)
        if path.endswith("/stall"):
            return await self._stall()
        if path.endswith("/silent"):
            return await self._silent(request)
        if path.endswith("/reflect"):  # a debugging server that shows what it got
            return web.json_response({}, headers={"X-Seen": headers.get("authorization", "")})
        return web.json_response(
            {"method": request.method, "target": request.raw_path, "body": body.decode()},
            headers={"Connection": "X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=5", "X-End": "1"},
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'event: one\ndata: {"n": 1}\n\n')
        self.first_sent.set()
        return response

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = await self._events(request)
        released = await asyncio.get_running_loop().run_in_executor(None, self.release.wait, WAIT)
        assert released, "the test never released the second event"
        await response.write(b'event: two\ndata: {"n": 2}\n\n')
        await response.write_eof()
        return response

    async def _hold(self, request: web.Request) -> web.StreamResponse:
        try:
            response = await self._events(request)
            await asyncio.Event().wait()  # until cancelled: the request ended
            return response
        finally:
            self.ended.set()

    async def _silent(self, request: web.Request) -> web.StreamResponse:
        try:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)  # the headers, then nothing
            await asyncio.Event().wait()
            return response
        finally:
            self.ended.set()

    async def _stall(self) -> web.StreamResponse:
        try:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")
        finally:
            self.ended.set()


@contextmanager
def running_upstream(tls: ssl.SSLContext | None = None) -> Iterator[Upstream]:
    """A fresh :class:`Upstream` on 127.0.0.1 (https with ``tls``) until the block ends."""
    upstream = Upstream()
    with serve_in_thread(
        upstream.app(), name="upstream", tls=tls, handler_cancellation=True
    ) as url:
        upstream.url = url
        try:
            yield upstream
        finally:
            upstream.release.set()
