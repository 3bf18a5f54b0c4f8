"""The fake backend's HTTP side: aiohttp routes that record each request, ask the state
whether it may pass, and send the state's answer (a stream of events, or JSON).

Request bodies are read as sent and decompressed here, not by aiohttp: the Codex CLI
compresses its model requests with zstd, which aiohttp refuses (with a 400, before any
handler runs) unless a zstd package is installed. gzip and deflate are decompressed
with the standard library, zstd with ``compression.zstd`` where Python has it (3.14);
a body it cannot decompress is recorded without its JSON and taken as a request to
stream, which is all Codex sends.
"""

from __future__ import annotations

import gzip
import importlib
import json
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from codex_login.testing.backend.state import BackendState
from codex_login.testing.backend.values import refusal, sse
from codex_login.testing.issuer.values import Recorded, Reply

Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
Gate = Callable[[Mapping[str, str]], Reply | None]


def backend_app(state: BackendState) -> web.Application:
    """The aiohttp application serving ``state``: the ChatGPT flavour at the root (as
    ``https://chatgpt.com/backend-api/codex``), the API-key flavour under ``/v1``."""
    routes = BackendRoutes(state)
    app = web.Application(handler_args={"auto_decompress": False})
    flavours = (
        ("", state.chatgpt_refusal, state.chatgpt_models),
        ("/v1", state.api_key_refusal, state.api_models),
    )
    for prefix, gate, listing in flavours:
        app.router.add_post(f"{prefix}/responses", routes.guarded(gate, routes.responses))
        app.router.add_get(f"{prefix}/models", routes.guarded(gate, routes.models(listing)))
    app.router.add_get("/responses", routes.no_websocket)
    app.router.add_route("*", "/{tail:.*}", routes.not_found)
    return app


def _send(reply: Reply) -> web.Response:
    return web.json_response(reply.document, status=reply.status)


class BackendRoutes:
    """One handler per route; each request is kept in ``state.requests`` first."""

    def __init__(self, state: BackendState) -> None:
        self._state = state

    async def record(self, request: web.Request) -> Recorded:
        recorded = await _read(request)
        self._state.record(recorded)
        return recorded

    def guarded(
        self, gate: Gate, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """``handler`` behind ``gate``: a refused request is answered with the refusal."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            recorded = await self.record(request)
            refused = gate(request.headers)
            if refused is not None:
                return _send(refused)
            return await handler(request, recorded)

        return guarded

    async def responses(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json
        undecoded = recorded.content_type == UNDECODED
        if not isinstance(body, dict) and not undecoded:
            return _send(refusal("the body must be a JSON object", "invalid_body", status=400))
        answer = self._state.answer(body if isinstance(body, dict) else {})
        if not undecoded and body.get("stream") is not True:
            return web.json_response(answer.response())
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        for event in answer.events():
            await stream.write(sse(event))
        await stream.write_eof()
        return stream

    def models(self, listing: Callable[[], dict[str, Any]]) -> Handler:
        """A model list route answering ``listing()``, the flavour's own shape."""

        async def models(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.json_response(listing())

        return models

    async def no_websocket(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        return _send(refusal("no WebSocket here: POST /responses", "upgrade_required", status=426))

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        return _send(refusal(f"no route {request.method} {request.path}", "not_found", status=404))


UNDECODED = "application/octet-stream"  # the content type recorded for a body not decoded


async def _read(request: web.Request) -> Recorded:
    """The request as a ``Recorded``: its JSON body, decompressed first if need be."""
    body = _decompressed(await request.read(), request.headers.get("Content-Encoding", ""))
    document: Any = None
    content_type = request.content_type if body else ""
    if body is None:
        content_type = UNDECODED
    elif body and request.content_type == "application/json":
        try:
            document = json.loads(body)
        except ValueError:
            document = body.decode("utf-8", "replace")
    peername = request.transport.get_extra_info("peername") if request.transport else None
    return Recorded(
        request.method,
        request.path,
        {},
        document,
        content_type,
        query=dict(request.query),
        headers=dict(request.headers),
        peer=(str(peername[0]), int(peername[1])) if peername else None,
    )


def _decompressed(raw: bytes, encoding: str) -> bytes | None:
    """``raw`` without its Content-Encoding; None when it cannot be undone here."""
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return raw
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return None
    return _unzstd(raw) if encoding == "zstd" else None


def _unzstd(raw: bytes) -> bytes | None:
    try:
        zstd: Any = importlib.import_module("compression.zstd")  # Python 3.14 and later
    except ImportError:
        return None
    try:
        return bytes(zstd.decompress(raw))
    except Exception:  # zstd.ZstdError: a type only where the module exists
        return None
