"""The middleware every request passes: who may ask, a deadline, JSON for every answer,
and one access-log line."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.adapters.client_keys import ClientKeyFile
from codex_login.entrypoints.broker.access import CLIENT, SECRET_CLIENT, Access
from codex_login.entrypoints.broker.access_log import printable
from codex_login.entrypoints.broker.admission import Connection
from codex_login.entrypoints.broker.answers import error
from codex_login.entrypoints.broker.grace import Grace
from codex_login.entrypoints.broker.limits import Limits
from codex_login.entrypoints.http_answers import json_response

log = logging.getLogger(__name__)

PROXY_ROUTE = "proxy"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Guard(Grace):
    """The broker's part that guards its routes (mixed into ``Broker``, which sets these
    attributes)."""

    _access: Access
    _limits: Limits
    _say: Callable[[str], None]
    _connections: dict[RequestHandler, Connection]
    _silent: set[Connection]
    _limited: set[int]  # requests (by id) whose forced refresh got the current token
    _keys_said: str | None  # the client keys file's state, as last logged

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who may ask, a deadline, JSON for every answer, and one access-log line."""
        started = time.perf_counter()
        connection = self._connections.get(request.protocol)
        peer = connection.peer if connection is not None else "?"
        try:
            refusal = self._refusal(request, connection)
            if refusal is not None:
                response: web.StreamResponse = refusal
            else:
                response = await self._until_cut(request, handler)
        except Exception as exc:  # a bug: answered as JSON and logged, never a traceback
            log.debug("the broker failed unexpectedly", exc_info=True)
            response = json_response(500, error("broker_error", f"unexpected {type(exc).__name__}"))
        if response.status in (401, 403) or connection is None or not connection.proven:
            response.force_close()  # a refused client asks again on a new connection
        note = ""
        if id(request) in self._limited:
            self._limited.discard(id(request))
            note = " (forced refresh limited: current token)"
        elapsed = (time.perf_counter() - started) * 1000
        where = f"{printable(request.method, 16)} {printable(request.raw_path.split('?')[0])}"
        client = request.get(CLIENT)
        who = f"{peer} client={client}" if client is not None else peer
        self._say(f"{who} {where} {response.status} {elapsed:.1f}ms{note}")
        return response

    def _refusal(
        self, request: web.Request, connection: Connection | None
    ) -> web.StreamResponse | None:
        """The answer to a request that may not ask, or None: it may."""
        if connection is None:
            return json_response(403, error("forbidden", "not allowed here"))
        self._silent.discard(connection)
        if connection.lane.unix:
            allowed = connection.allowed
        else:
            try:
                client = self._client_of(request.headers.get("Authorization", ""))
            except UnicodeError:
                return json_response(
                    400, error("bad_request", "the Authorization header is not UTF-8 text")
                )
            allowed = client is not None
            if client is not None:
                request[CLIENT] = client
        if not allowed:
            return json_response(403, error("forbidden", "not allowed here"))
        if not connection.proven:
            connection.proven = True
            connection.lane.unproven.pop(connection, None)
        return None

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The route's answer within the request timeout (the proxy bounds its own waits)."""
        if request.match_info.route.name == PROXY_ROUTE:
            return await handler(request)
        try:
            answer = await asyncio.wait_for(handler(request), self._limits.request_timeout)
        except web.HTTPException as exc:
            answer = json_response(
                exc.status, error(exc.reason.lower().replace(" ", "_"), exc.reason)
            )
        except TimeoutError:
            answer = json_response(
                503,
                error("timeout", "the token took too long; try again"),
                retry_after=True,
            )
        return answer

    def client_name(self, request: web.Request) -> str:
        """Who sent ``request``, for logs and metrics labels: on TCP the client it proved
        to be (a client key's name, or ``secret``), on the socket ``uid=N`` (no pid: a
        label must not take a new value per process); ``-`` when it proved nothing."""
        client: str | None = request.get(CLIENT)
        if client is not None:
            return client
        connection = self._connections.get(request.protocol)
        if connection is not None and connection.lane.unix and connection.allowed:
            return f"uid={connection.key}"
        return "-"

    def _client_of(self, header: str) -> str | None:
        """Which client ``header`` proves the request comes from: ``secret``, a client key's
        name, or None; UnicodeError when it is not UTF-8 text."""
        given = header.encode("utf-8")  # aiohttp keeps undecodable bytes as surrogates
        if not given.startswith(b"Bearer "):
            return None
        presented = given.removeprefix(b"Bearer ")
        if self._secret_matches(presented):
            return SECRET_CLIENT
        keys = self._access.client_keys
        if keys is None:
            return None
        name = keys.name_of(presented)
        self._tell_keys(keys)
        return name

    def _secret_matches(self, presented: bytes) -> bool:
        """Whether ``presented`` is the secret (compared in constant time)."""
        secret = self._access.secret
        return bool(secret) and hmac.compare_digest(presented, (secret or "").encode())

    def _tell_keys(self, keys: ClientKeyFile) -> None:
        """One log line when the client keys file was read again, or became unusable."""
        state = keys.problem or f"{len(keys.names)} client keys from {keys.path}"
        if state == self._keys_said:
            return
        if keys.problem is not None:
            self._say(f"- refusing every client key: {keys.problem}")
        elif self._keys_said is not None:  # serve said how many it read at the start
            self._say(f"- {state}")
        self._keys_said = state
