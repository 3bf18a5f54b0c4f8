"""The broker itself: the aiohttp application, its routes and proxy wired together, and
its life cycle on already listening sockets."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.adapters.peer_credentials import is_unix_socket
from codex_login.application.service import AuthService
from codex_login.entrypoints.broker.access import Access, GroupMembers
from codex_login.entrypoints.broker.access_log import quiet_logger
from codex_login.entrypoints.broker.admission import Connection, Connections, Lane
from codex_login.entrypoints.broker.answers import failure
from codex_login.entrypoints.broker.guard import PROXY_ROUTE, Guard
from codex_login.entrypoints.broker.handlers import Routes
from codex_login.entrypoints.broker.limits import ForcedRefreshes, Limits
from codex_login.entrypoints.observer import Observer, load_metrics
from codex_login.entrypoints.proxy.forward import Proxy
from codex_login.entrypoints.proxy.observer import ProxyObserver
from codex_login.entrypoints.proxy.upstream import Waits

log = logging.getLogger(__name__)
CUT_MARGIN = 1.0  # seconds between our cut of the streams and aiohttp's own bound


class Broker(Routes, Guard, Connections):
    """The aiohttp application and its listeners: the routes (``handlers.py``), the
    middleware guarding them (``guard.py``) and the connections' admission
    (``admission.py``) are its parts."""

    def __init__(
        self,
        service: AuthService,
        *,
        access: Access | None = None,
        limits: Limits | None = None,
        access_log: Callable[[str], None] | None = None,
        upstream: str | None = None,
        proxy_observer: ProxyObserver | None = None,
        upstream_ca_file: str | None = None,
        metrics: Observer | None = None,
    ) -> None:
        self._service = service
        self.metrics = metrics if metrics is not None else load_metrics()
        self._access = access or Access()
        self._limits = limits or Limits()
        self._say = access_log or log.info
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._stopping = False
        self._members = GroupMembers(self._access.gids)
        self._connections: dict[RequestHandler, Connection] = {}
        # Connections no request has reached yet; each is dropped at its deadline.
        self._silent: set[Connection] = set()
        # Requests (by id) whose forced refresh was answered with the current token.
        self._limited: set[int] = set()
        self._refreshes = ForcedRefreshes(
            self._limits.forced_refresh_burst, self._limits.forced_refresh_interval
        )
        self._proxy = self._new_proxy(upstream, proxy_observer, upstream_ca_file)
        self._handed: bytes | None = None  # a digest of the last token handed out
        self._keys_said: str | None = None  # the client keys file's state, as last logged
        self._in_flight: dict[asyncio.Task[Any], bool] = {}
        self._grace_over = False

    # -- life cycle -------------------------------------------------------------------

    async def start(self, listeners: Iterable[socket.socket]) -> None:
        """Serve on already bound, listening sockets (see ``unix_listener``, ``tcp_listener``)."""
        app = web.Application(
            middlewares=[self._guard, self._proxy.middleware],
            client_max_size=self._limits.max_body,
            handler_args={
                "max_line_size": self._limits.max_header,
                "max_field_size": self._limits.max_header,
                "max_headers": self._limits.max_headers,
                "keepalive_timeout": self._limits.keepalive,
                "logger": quiet_logger(self._say),
            },
        )
        app.router.add_get("/v1/token", self._token, allow_head=False)
        app.router.add_post("/v1/token/refresh", self._refresh)
        app.router.add_get("/healthz", self._health, allow_head=False)
        # The app's client_max_size bounds the token routes; the proxy reads its bodies.
        app.router.add_route("*", "/openai/v1/{path:.*}", self._proxy.forward, name=PROXY_ROUTE)
        app.router.add_get("/metrics", self._metrics_page, allow_head=False)
        # aiohttp's own bound comes after our cut (stop): the two racing at one moment
        # would have it cancel a handler that our cut is ending.
        after_the_cut = self._limits.shutdown_grace + CUT_MARGIN
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=after_the_cut
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        for listener in listeners:
            listener.setblocking(False)
            lane = Lane(unix=is_unix_socket(listener))
            factory = functools.partial(self._protocol, lane)
            # asyncio listens again with its own backlog (100): a burst of clients on a
            # Unix socket would then fail at once (EAGAIN) instead of waiting their turn.
            backlog = self._limits.max_connections
            if lane.unix:
                server = await loop.create_unix_server(factory, sock=listener, backlog=backlog)
            else:
                server = await loop.create_server(factory, sock=listener, backlog=backlog)
            self._servers.append(server)

    async def stop(self) -> None:
        """Stop accepting and let the requests in flight finish."""
        self._stopping = True  # connections accepted but not yet admitted are refused
        for server in self._servers:
            server.close()
        # Read what already arrived (a signal can come before the loop got to it): a
        # request sent before the stop is answered.
        await asyncio.sleep(0)
        # A connection accepted just now that has sent nothing yet: nothing would wake it.
        for connection in list(self._silent):
            if not connection.spoke:
                connection.handler.force_close()
        self._silent.clear()
        # No wait_closed(): since Python 3.12.1 it waits for every connection, and a
        # keep-alive client would hold it forever; the runner's cleanup below is what
        # lets the requests in flight finish and closes the connections, bounded.
        self._servers.clear()
        if self._runner is not None:
            # aiohttp waits its bound for a handler, then as long again after cancelling
            # it, and a stream does not hear that cancel: cut what still streams at the
            # grace's end, as a client that left, so it ends (and is logged) then.
            late = asyncio.get_running_loop().call_later(self._limits.shutdown_grace, self._cut)
            try:
                await self._runner.cleanup()
            finally:
                late.cancel()
            self._runner = None
        await self._proxy.close()  # after the streams in flight (bounded by the grace)

    def _new_proxy(
        self, upstream: str | None, observer: ProxyObserver | None, ca_file: str | None
    ) -> Proxy:
        limits = self._limits
        waits = Waits(limits.upstream_connect, limits.upstream_first_byte, limits.upstream_gap)
        return Proxy(
            self._service,
            failure=failure,
            client_name=self.client_name,
            on_disconnect=self._on_disconnect,
            waits=waits,
            max_body=limits.proxy_max_body,
            body_wait=limits.request_timeout,
            upstream=upstream,
            ca_file=ca_file,
            observer=observer if observer is not None else self.metrics,
        )

    def _on_disconnect(
        self, request: web.Request, callback: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``callback`` when ``request``'s connection is lost; returns the undo."""
        connection = self._connections.get(request.protocol)
        if connection is None:
            return lambda: None
        connection.lost.append(callback)
        task = asyncio.current_task()
        if task in self._in_flight:  # a stream: the cut ends it through ``callback``
            self._in_flight[task] = True
        return lambda: connection.lost.remove(callback) if callback in connection.lost else None
