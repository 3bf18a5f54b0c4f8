"""The token routes: ``GET /v1/token``, ``POST /v1/token/refresh``, ``GET /healthz`` and
``GET /metrics``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.adapters import broker_protocol as protocol
from codex_login.application.seam import off_loop
from codex_login.application.service import AuthService
from codex_login.domain.errors import CodexLoginError
from codex_login.domain.outcomes import outcome_of
from codex_login.domain.tokens import AccessToken
from codex_login.entrypoints.broker.access import CLIENT, SECRET_CLIENT
from codex_login.entrypoints.broker.admission import Connection
from codex_login.entrypoints.broker.answers import error, failure
from codex_login.entrypoints.broker.limits import ForcedRefreshes
from codex_login.entrypoints.http_answers import NO_STORE, json_response
from codex_login.entrypoints.observer import MISSING, Observer


class Routes:
    """The broker's token routes (mixed into ``Broker``, which sets these attributes)."""

    _service: AuthService
    metrics: Observer
    _connections: dict[RequestHandler, Connection]
    _refreshes: ForcedRefreshes
    _limited: set[int]  # requests (by id) whose forced refresh got the current token
    _handed: bytes | None  # a digest of the last token handed out

    async def _token(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(self._service.auth())

    async def _refresh(self, request: web.Request) -> web.StreamResponse:
        try:
            stale = protocol.loads(await request.read(), protocol.RefreshRequest).stale
        except ValueError:
            return json_response(400, error("bad_request", 'send {"stale": "<the refused token>"}'))
        connection = self._connections.get(request.protocol)
        now = asyncio.get_running_loop().time()
        # Each client key has its own share: sandboxes on one address do not share one.
        client: str | None = request.get(CLIENT)
        peer = ("client", client) if client not in (None, SECRET_CLIENT) else None
        if connection is not None and not self._refreshes.take(peer or connection.key, now):
            # Beyond the peer's share: the current token, as when the refused one is no
            # longer current. Every client copes with that answer (it retries once with
            # it); a new status such as 429 would fail the request it wanted to retry.
            self._limited.add(id(request))
            return await self._serve(self._service.auth(), stale=stale)
        return await self._serve(self._service.refresh(stale=stale), stale=stale)

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, protocol.Health())

    async def _metrics_page(self, request: web.Request) -> web.StreamResponse:
        if not self.metrics.available:
            return json_response(404, error("not_found", MISSING))
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={**NO_STORE, "Content-Type": content_type})

    async def _serve(
        self, getting: Awaitable[AccessToken], *, stale: str | None = None
    ) -> web.StreamResponse:
        """The token answer; ``stale``: a forced refresh's, counted by outcome."""
        try:
            token = await getting
            # An access token's workspace is whoami's: asked once (the service holds the
            # answer), off this loop; unreachable, it is a failure like any other.
            token = await off_loop(self._service.identified, token)
            api = self._service.model_api_of(token)
        except CodexLoginError as exc:
            if stale is not None:
                self.metrics.refresh("failed", outcome_of(exc).error_code)
            return failure(exc)
        handed = hashlib.sha256(token.token.encode()).digest()
        if stale is not None:
            # A new token, unless it is the refused one (too young to force) or the one
            # already handed out (another request's refresh, or the forced-refresh limit).
            new = token.token != stale and handed != self._handed
            self.metrics.refresh("refreshed" if new else "current")
        self._handed = handed
        self.metrics.token_served()
        answer = protocol.TokenAnswer.of(token, now=self._service.clock.now(), api=api)
        return json_response(200, answer)
