"""An HTTP API on 127.0.0.1 that records the bearer token of every request and can refuse
chosen tokens: what an OpenAI-style API looks like to the HTTP client integrations."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from support.servers import serve_in_thread

MODELS = {
    "object": "list",
    "data": [{"id": "gpt-test", "object": "model", "created": 0, "owned_by": "codex-login"}],
}
WAIT = 30.0  # seconds any condition may take on a slow, shared machine


class LoopbackApi:
    """An HTTP API on 127.0.0.1 that records who called it and refuses chosen tokens."""

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[str] = []  # the Authorization header of each request ("" if none)
        self.accounts: list[str] = []  # its ChatGPT-Account-ID header ("" if none)
        self.bodies: list[bytes] = []
        self.refused: set[str] = set()  # bearer tokens answered with 401
        self.refuse_all = False
        self.crowd = 1  # refusals wait until this many refused requests have arrived
        self.refusing = threading.Event()  # set when a refused request has arrived
        self.gate: threading.Event | None = None  # when set, refusals wait for it
        self._refusals = 0
        self._crowd_here = asyncio.Event()

    def refuse(self, token: str) -> None:
        self.refused.add(token)

    def tokens_seen(self) -> list[str]:
        return [header.removeprefix("Bearer ") for header in self.seen]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/echo", self._echo)
        app.router.add_get("/elsewhere", self._elsewhere)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        return await self._refusal(request) or web.json_response(MODELS)

    async def _echo(self, request: web.Request) -> web.Response:
        return await self._refusal(request) or web.Response(body=await request.read())

    async def _elsewhere(self, request: web.Request) -> web.Response:
        """A redirect to the same API under another host name."""
        self.seen.append(request.headers.get("Authorization", ""))
        self.accounts.append(request.headers.get("ChatGPT-Account-ID", ""))
        port = request.url.port
        raise web.HTTPFound(f"http://localhost:{port}/v1/models")

    async def _refusal(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        self.seen.append(header)
        self.accounts.append(request.headers.get("ChatGPT-Account-ID", ""))
        self.bodies.append(await request.read())
        token = header.removeprefix("Bearer ")
        if header and not self.refuse_all and token not in self.refused:
            return None
        await self._gather_crowd()
        return web.json_response(
            {"error": {"message": "invalid token", "code": "invalid_api_key"}}, status=401
        )

    async def _gather_crowd(self) -> None:
        self.refusing.set()
        self._refusals += 1
        if self._refusals >= self.crowd:
            self._crowd_here.set()
        await asyncio.wait_for(self._crowd_here.wait(), WAIT)
        if self.gate is not None:
            assert await asyncio.to_thread(self.gate.wait, WAIT)


@contextmanager
def serving(api: LoopbackApi) -> Iterator[LoopbackApi]:
    """Serve ``api`` from a background thread's event loop until the block ends."""
    with serve_in_thread(api.app(), name="loopback-api") as url:
        api.url = url
        yield api
