"""Forwarding ``/openai/v1/<path>`` to the model API with the login's headers.

The client's ``Authorization`` (its broker key) is removed and the login's headers are
added (``AuthService.model_api_of``); the other end-to-end headers and the query pass,
hop-by-hop headers do not. The body is read first, bounded, so that an upstream 401 can
be sent again once after a forced refresh; the answer streams back as it arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from codex_login.application.seam import off_loop
from codex_login.application.service import AuthService
from codex_login.domain.access_tokens import workspace_unknown
from codex_login.domain.errors import CodexLoginError
from codex_login.domain.outcomes import outcome_of
from codex_login.domain.tokens import AccessToken
from codex_login.entrypoints.proxy import relay
from codex_login.entrypoints.proxy.answers import error_answer, too_slow, unreachable
from codex_login.entrypoints.proxy.body import read_body
from codex_login.entrypoints.proxy.observer import NoObserver, ProxyObserver
from codex_login.entrypoints.proxy.stream import OnDisconnect, stream_back
from codex_login.entrypoints.proxy.upstream import Upstream, Waits, hop_by_hop

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Never sent upstream: who the client is to the broker, and what would aim the request.
_CLIENT_ONLY = frozenset(
    {"host", "authorization", "content-length", "expect", "forwarded"}
    | {"x-original-url", "x-rewrite-url"}
)
Failure = Callable[[CodexLoginError], web.StreamResponse]


class _Failed(Exception):
    """The upstream could not be reached or was too slow: the answer to give instead."""

    def __init__(self, answer: web.Response) -> None:
        super().__init__(answer.status)
        self.answer = answer


class Proxy:
    """The proxy's route (``forward``), its middleware and its upstream session."""

    def __init__(
        self,
        service: AuthService,
        *,
        failure: Failure,
        client_name: Callable[[web.Request], str],
        on_disconnect: OnDisconnect,
        waits: Waits,
        max_body: int,
        body_wait: float,
        upstream: str | None = None,
        ca_file: str | None = None,
        observer: ProxyObserver | None = None,
    ) -> None:
        self._service = service
        self._failure = failure
        self._client_name = client_name
        self._on_disconnect = on_disconnect
        self._upstream = Upstream(waits, ca_file)
        self._max_body = max_body
        self._body_wait = body_wait
        self._base = upstream
        self._observer = observer or NoObserver()

    async def close(self) -> None:
        await self._upstream.close()

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """``CONNECT``, absolute-form targets and raw paths under ``/openai`` are judged by
        the relay rules before routing: the router would answer 404 to an authority,
        route a full URL by its path, and resolve dot-segments first."""
        target = request.raw_path
        if _judged_before_routing(request.method, target):
            refused = relay.refusal(
                request.method, target, request.headers, own_port=_own_port(request)
            )
            if refused is not None:
                self._observer.forwarded(self._client_name(request), refused.status, 0.0)
                return error_answer(refused.status, refused.error, refused.message)
        return await handler(request)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """The route: forwarded, or refused before anything is sent. The relay rules are
        judged once per request: by ``middleware`` for a raw target under ``/openai``,
        here for one the router only made so (``/x/../openai/v1/``, ``/%6fpenai/v1/``)."""
        started = time.perf_counter()
        response = await self._forward(request)
        self._observer.forwarded(
            self._client_name(request), response.status, time.perf_counter() - started
        )
        return response

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        refused = None
        if not _judged_before_routing(request.method, request.raw_path):
            refused = relay.refusal(
                request.method, request.raw_path, request.headers, own_port=_own_port(request)
            )
        if refused is None and request.method not in METHODS:
            refused = relay.Refusal(405, "method_not_allowed", "method not forwarded")
        if refused is not None:
            return error_answer(refused.status, refused.error, refused.message)
        body = await read_body(request, limit=self._max_body, wait=self._body_wait)
        if isinstance(body, web.StreamResponse):
            return body
        try:
            token = await self._identified(await self._service.auth())
            upstream = await self._send(request, token, body)
            if upstream.status == 401:  # a token the model API refused: once more, fresh
                fresh = await self._renewed(token, upstream)
                if fresh is not None:
                    token, upstream = fresh, await self._send(request, fresh, body)
        except CodexLoginError as exc:
            return self._failure(exc)
        except _Failed as failed:
            return failed.answer
        return await stream_back(
            request,
            upstream,
            secret=token.token,
            gap=self._upstream.waits.gap,
            on_disconnect=self._on_disconnect,
            observer=self._observer,
        )

    async def _identified(self, token: AccessToken) -> AccessToken:
        """``token`` with its workspace: an access token's is whoami's, asked once per
        process (the service holds it) on a worker thread; any other as it is."""
        if not workspace_unknown(token):
            return token
        return await off_loop(self._service.identified, token)

    async def _renewed(
        self, refused: AccessToken, answer: aiohttp.ClientResponse
    ) -> AccessToken | None:
        """The token after a refresh forced by ``refused`` (counted by its outcome), its
        ``answer`` closed; None when it is the same (a key, a token refreshed a moment ago):
        that answer is then passed back, not the request sent again for nothing."""
        try:
            token = await self._service.refresh(stale=refused.token)
        except BaseException as exc:
            answer.close()
            if isinstance(exc, CodexLoginError):
                self._observer.refresh("failed", outcome_of(exc).error_code)
            raise
        self._observer.refresh("refreshed" if token.token != refused.token else "current")
        if token.token == refused.token:
            return None
        answer.close()
        return await self._identified(token)

    async def _send(
        self, request: web.Request, token: AccessToken, body: bytes | None
    ) -> aiohttp.ClientResponse:
        """The upstream's answer, its headers read; _Failed: unreachable (502) or too slow
        (504)."""
        api = self._service.model_api_of(token)
        url = URL(relay.upstream_url(self._base or api.base_url, request.raw_path), encoded=True)
        host = url.host or "?"
        waits = self._upstream.waits
        sent = time.perf_counter()
        try:
            async with asyncio.timeout(waits.first_byte):
                response = await self._upstream.session(host).request(
                    request.method,
                    url,
                    headers=upstream_headers(request.headers, api.headers),
                    data=body,
                    allow_redirects=False,
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise _Failed(too_slow(host, "accept the connection")) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _Failed(unreachable(host)) from exc
        except TimeoutError as exc:
            raise _Failed(too_slow(host, "begin its answer")) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise _Failed(unreachable(host)) from exc
        self._observer.first_byte(time.perf_counter() - sent)
        return response


def upstream_headers(client: CIMultiDictProxy[str], login: Mapping[str, str]) -> CIMultiDict[str]:
    """What goes upstream: the client's end-to-end headers without its credential and
    without anything naming a host, then the login's headers (replacing the client's)."""
    drop = hop_by_hop(client) | _CLIENT_ONLY | {name.lower() for name in login}
    headers = CIMultiDict(
        (name, value)
        for name, value in client.items()
        if name.lower() not in drop and not name.lower().startswith("x-forwarded-")
    )
    headers.extend(login)
    return headers


def _judged_before_routing(method: str, target: str) -> bool:
    """Whether the middleware judges this request by the relay rules (the raw target)."""
    return method == "CONNECT" or not target.startswith("/") or _proxied(target)


def _proxied(target: str) -> bool:
    return target.startswith("//") or target.lower().startswith("/openai")


def _own_port(request: web.Request) -> int | None:
    """The TCP port the request came in on; None on the Unix socket."""
    transport = request.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    return int(name[1]) if isinstance(name, tuple) and len(name) >= 2 else None
