"""The fake backend's HTTP side: aiohttp routes that record each request, ask the state
whether it may pass, and send the state's answer (a stream of events, or JSON)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from codex_login.testing.backend.state import BackendState
from codex_login.testing.backend.values import refusal, sse
from codex_login.testing.issuer.app import read_request
from codex_login.testing.issuer.values import Recorded, Reply

Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
Gate = Callable[[Mapping[str, str]], Reply | None]


def backend_app(state: BackendState) -> web.Application:
    """The aiohttp application serving ``state``: the ChatGPT flavour at the root (as
    ``https://chatgpt.com/backend-api/codex``), the API-key flavour under ``/v1``."""
    routes = BackendRoutes(state)
    app = web.Application()
    for prefix, gate in (("", state.chatgpt_refusal), ("/v1", state.api_key_refusal)):
        app.router.add_post(f"{prefix}/responses", routes.guarded(gate, routes.responses))
        app.router.add_get(f"{prefix}/models", routes.guarded(gate, routes.models))
    app.router.add_route("*", "/{tail:.*}", routes.not_found)
    return app


def _send(reply: Reply) -> web.Response:
    return web.json_response(reply.document, status=reply.status)


class BackendRoutes:
    """One handler per route; each request is kept in ``state.requests`` first."""

    def __init__(self, state: BackendState) -> None:
        self._state = state

    async def record(self, request: web.Request) -> Recorded:
        recorded = await read_request(request)
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
        if not isinstance(body, dict):
            return _send(refusal("the body must be a JSON object", "invalid_body", status=400))
        answer = self._state.answer(body)
        if body.get("stream") is not True:
            return web.json_response(answer.response())
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        for event in answer.events():
            await stream.write(sse(event))
        await stream.write_eof()
        return stream

    async def models(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            return web.json_response(self._state.api_models())
        return web.json_response(self._state.chatgpt_models())

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        return _send(refusal(f"no route {request.method} {request.path}", "not_found", status=404))
