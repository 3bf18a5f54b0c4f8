"""The token broker (``codex-login serve``): an HTTP entrypoint handing out access tokens.

The host runs one broker that owns the login; sandboxes and containers ask it
for a short-lived access token and never see the refresh token, the ID token
or the stored record. Tokens come from the application service, so the broker
refreshes through the same single-flight protocol as every other process.

Routes (every answer JSON, ``Cache-Control: no-store``, written by the protocol's one
converter in ``adapters/broker_protocol.py``, which the client reads them with):

- ``GET /v1/token``: ``{access_token, token_type, expires_at, expires_in,
  account_id, mode, base_url, headers}`` (``mode`` as auth.json spells it; ``base_url``
  and ``headers`` the model API to call with the token and every header to send),
  refreshed first when due;
- ``POST /v1/token/refresh`` with ``{"stale": token}``: a token a server refused;
  refreshed unless that is no longer the current one;
- ``GET /healthz``;
- ``/openai/v1/<path>`` (any method the model API takes): the proxy
  (``entrypoints/proxy/``) forwards it to the login's model API base URL (or
  ``--upstream``) with the login's headers instead of the client's ``Authorization``,
  and streams the answer back; nothing else is forwarded anywhere.
- ``GET /metrics``: the Prometheus text format (``entrypoints/metrics.py``), or 404
  naming the ``metrics`` extra when prometheus_client is not installed.

Who may ask: on a Unix socket, peers whose uid (``SO_PEERCRED``) is allowed, or
is a member of an allowed group in the user and group databases (the peer's own
gid is not trusted: a setgid program would carry a group its user is not in); on
loopback TCP, requests carrying ``Authorization: Bearer <secret>``, the secret
being the one of ``--secret-file`` or a client key of ``--client-keys`` (re-read
when the file changes, ``adapters/client_keys.py``). A refused request is answered
and its connection closed.

Bounded, so that no client can starve another (SPEC §8):

- each listener has its own connection cap, so TCP clients can never fill the
  socket's slots;
- a connection that has not proven itself (TCP: no request with the secret yet;
  socket: a peer that is not allowed) is one of a few per listener; when they are
  all taken, the oldest is dropped to make room;
- each peer (a uid on the socket, other than the broker's own; an address on TCP)
  holds a bounded share of a listener's connections;
- a deadline for a connection's first request (slow clients), a per-request
  timeout, body and header sizes;
- forced refreshes (``POST /v1/token/refresh``): a few per peer, then one per
  interval; beyond that the peer is answered the current token.

One access-log line per request, its raw path escaped and truncated, never a
token or a key: the peer (``uid=N pid=N`` on the socket, the address on TCP), then
on TCP the client it proved to be (``client=NAME``, a client key's name, or
``client=secret``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import socket
import stat
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import attrs
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.adapters import broker_protocol as protocol
from codex_login.adapters.client_keys import ClientKeyFile
from codex_login.adapters.peer_credentials import (
    current_uid,
    is_unix_socket,
    peer_credentials,
)
from codex_login.application.seam import off_loop
from codex_login.application.service import AuthService
from codex_login.domain.errors import CodexLoginError, ConfigurationError, NotLoggedIn
from codex_login.domain.outcomes import outcome_of
from codex_login.domain.tokens import AccessToken
from codex_login.entrypoints.observer import MISSING, Observer, load_metrics
from codex_login.entrypoints.proxy.forward import Proxy
from codex_login.entrypoints.proxy.observer import ProxyObserver
from codex_login.entrypoints.proxy.upstream import Waits
from codex_login.entrypoints.remedies import on_the_host

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
RETRY_AFTER_SECONDS = 10
PROXY_ROUTE = "proxy"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The client a TCP request proved to be: a client key's name, or SECRET_CLIENT.
CLIENT = web.RequestKey("client", str)
SECRET_CLIENT = "secret"  # noqa: S105  (a name for the log, not a secret)


@attrs.frozen
class Limits:
    """What one client can make the broker hold."""

    max_connections: int = 512  # per listener
    max_unproven: int = 16  # per listener: connections that have not proven who they are
    max_per_peer: int = 128  # per listener and peer; the broker's own uid is not limited
    max_body: int = 4096
    max_header: int = 4096
    max_headers: int = 32
    first_request_deadline: float = 5.0
    request_timeout: float = 75.0  # a refresh may take the issuer's full 60 s
    keepalive: float = 15.0
    shutdown_grace: float = 30.0
    forced_refresh_burst: int = 3  # per peer, then one per interval
    forced_refresh_interval: float = 10.0
    proxy_max_body: int = 32 << 20  # a proxied request's body, read whole before sending
    upstream_connect: float = 10.0  # the proxy's waits for the upstream
    upstream_first_byte: float = 300.0  # as Codex's stream_idle_timeout
    upstream_gap: float = 300.0  # between two reads of a streamed answer


def own_uids() -> frozenset[int]:
    """This user's uid, allowed on the Unix socket; none on Windows (no uids there)."""
    uid = current_uid()
    return frozenset() if uid is None else frozenset({uid})


@attrs.frozen
class Access:
    """Who may ask: on the Unix socket these uids, and the users who are members of these
    gids (primary or supplementary, by the user and group databases); on TCP, the secret
    or a key in the client keys file."""

    uids: frozenset[int] = attrs.field(factory=own_uids)
    gids: frozenset[int] = frozenset()
    secret: str | None = attrs.field(default=None, repr=False)
    client_keys: ClientKeyFile | None = attrs.field(default=None, eq=False)


class Broker:
    """The aiohttp application and its listeners."""

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
        self._members = _GroupMembers(self._access.gids)
        self._connections: dict[RequestHandler, _Connection] = {}
        # Connections no request has reached yet; each is dropped at its deadline.
        self._silent: set[_Connection] = set()
        # Requests (by id) whose forced refresh was answered with the current token.
        self._limited: set[int] = set()
        self._refreshes = _ForcedRefreshes(
            self._limits.forced_refresh_burst, self._limits.forced_refresh_interval
        )
        self._proxy = self._new_proxy(upstream, proxy_observer, upstream_ca_file)
        self._handed: bytes | None = None  # a digest of the last token handed out
        self._keys_said: str | None = None  # the client keys file's state, as last logged

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
                "logger": _quiet_logger(self._say),
            },
        )
        app.router.add_get("/v1/token", self._token, allow_head=False)
        app.router.add_post("/v1/token/refresh", self._refresh)
        app.router.add_get("/healthz", self._health, allow_head=False)
        # The app's client_max_size bounds the token routes; the proxy reads its bodies.
        app.router.add_route("*", "/openai/v1/{path:.*}", self._proxy.forward, name=PROXY_ROUTE)
        app.router.add_get("/metrics", self._metrics_page, allow_head=False)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self._limits.shutdown_grace
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        for listener in listeners:
            listener.setblocking(False)
            lane = _Lane(unix=is_unix_socket(listener))
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
            await self._runner.cleanup()
            self._runner = None
        await self._proxy.close()  # after the streams in flight (bounded by the grace)

    def _new_proxy(
        self, upstream: str | None, observer: ProxyObserver | None, ca_file: str | None
    ) -> Proxy:
        limits = self._limits
        waits = Waits(limits.upstream_connect, limits.upstream_first_byte, limits.upstream_gap)
        return Proxy(
            self._service,
            failure=_failure,
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
        return lambda: connection.lost.remove(callback) if callback in connection.lost else None

    # -- connections ----------------------------------------------------------------

    def _protocol(self, lane: _Lane) -> asyncio.BaseProtocol:
        """One connection on ``lane``: admitted (or not) once its peer is known."""
        server = self._runner.server if self._runner else None
        if server is None:  # a connection racing stop(): nothing serves it any more
            return _Admission(self, lane, None)
        return _Admission(self, lane, server())

    def _admit(
        self, lane: _Lane, handler: RequestHandler, transport: asyncio.BaseTransport
    ) -> _Connection | None:
        """The connection, counted against its listener's limits; None when refused."""
        if self._stopping:
            return None
        limits = self._limits
        connection = self._identify(lane, handler, transport)
        if connection is None or lane.count >= limits.max_connections:
            return None
        if not connection.owner and lane.per_peer[connection.key] >= limits.max_per_peer:
            return None
        if not connection.proven:
            if len(lane.unproven) >= limits.max_unproven:
                # Drop the oldest: a client that sends its request at once is served even
                # while others keep opening connections that never prove themselves.
                oldest = next(iter(lane.unproven))
                del lane.unproven[oldest]
                oldest.handler.force_close()
            lane.unproven[connection] = None
        lane.count += 1
        lane.per_peer[connection.key] += 1
        self._connections[handler] = connection
        self._silent.add(connection)
        asyncio.get_running_loop().call_later(
            limits.first_request_deadline, self._drop_if_silent, connection
        )
        return connection

    def _identify(
        self, lane: _Lane, handler: RequestHandler, transport: asyncio.BaseTransport
    ) -> _Connection | None:
        """Who is on the other end: a uid (``SO_PEERCRED``, macOS's ``LOCAL_PEERCRED``) on
        the socket, an address on TCP."""
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        if lane.unix:
            try:
                credentials = peer_credentials(sock)
            except OSError:  # gone already
                return None
            uid = credentials.uid
            allowed = uid in self._access.uids or self._members.includes(uid)
            return _Connection(
                lane,
                handler,
                peer=credentials.described,  # pid=? on macOS, which gives none
                key=uid,
                owner=uid == current_uid(),
                allowed=allowed,
                proven=allowed,
            )
        address = transport.get_extra_info("peername")
        host = str(address[0]) if isinstance(address, tuple) and address else "?"
        return _Connection(lane, handler, peer=host, key=host, owner=False, allowed=False)

    def _left(self, connection: _Connection) -> None:
        lane = connection.lane
        lane.count -= 1
        lane.per_peer[connection.key] -= 1
        if lane.per_peer[connection.key] <= 0:
            del lane.per_peer[connection.key]
        lane.unproven.pop(connection, None)
        self._silent.discard(connection)
        self._connections.pop(connection.handler, None)
        for callback in list(connection.lost):
            callback()

    def _drop_if_silent(self, connection: _Connection) -> None:
        if connection in self._silent or not connection.proven:
            self._silent.discard(connection)
            connection.handler.force_close()

    # -- access -----------------------------------------------------------------------

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
                response = await self._answer(request, handler)
        except Exception as exc:  # a bug: answered as JSON and logged, never a traceback
            log.debug("the broker failed unexpectedly", exc_info=True)
            response = _json(500, _error("broker_error", f"unexpected {type(exc).__name__}"))
        if response.status in (401, 403) or connection is None or not connection.proven:
            response.force_close()  # a refused client asks again on a new connection
        note = ""
        if id(request) in self._limited:
            self._limited.discard(id(request))
            note = " (forced refresh limited: current token)"
        elapsed = (time.perf_counter() - started) * 1000
        where = f"{_printable(request.method, 16)} {_printable(request.raw_path.split('?')[0])}"
        client = request.get(CLIENT)
        who = f"{peer} client={client}" if client is not None else peer
        self._say(f"{who} {where} {response.status} {elapsed:.1f}ms{note}")
        return response

    def _refusal(
        self, request: web.Request, connection: _Connection | None
    ) -> web.StreamResponse | None:
        """The answer to a request that may not ask, or None: it may."""
        if connection is None:
            return _json(403, _error("forbidden", "not allowed here"))
        self._silent.discard(connection)
        if connection.lane.unix:
            allowed = connection.allowed
        else:
            try:
                client = self._client_of(request.headers.get("Authorization", ""))
            except UnicodeError:
                return _json(
                    400, _error("bad_request", "the Authorization header is not UTF-8 text")
                )
            allowed = client is not None
            if client is not None:
                request[CLIENT] = client
        if not allowed:
            return _json(403, _error("forbidden", "not allowed here"))
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
            answer = _json(exc.status, _error(exc.reason.lower().replace(" ", "_"), exc.reason))
        except TimeoutError:
            answer = _json(
                503,
                _error("timeout", "the token took too long; try again"),
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

    # -- routes -----------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(self._service.auth())

    async def _refresh(self, request: web.Request) -> web.StreamResponse:
        try:
            stale = protocol.loads(await request.read(), protocol.RefreshRequest).stale
        except ValueError:
            return _json(400, _error("bad_request", 'send {"stale": "<the refused token>"}'))
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
        return _json(200, protocol.Health())

    async def _metrics_page(self, request: web.Request) -> web.StreamResponse:
        if not self.metrics.available:
            return _json(404, _error("not_found", MISSING))
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
            return _failure(exc)
        handed = hashlib.sha256(token.token.encode()).digest()
        if stale is not None:
            # A new token, unless it is the refused one (too young to force) or the one
            # already handed out (another request's refresh, or the forced-refresh limit).
            new = token.token != stale and handed != self._handed
            self.metrics.refresh("refreshed" if new else "current")
        self._handed = handed
        self.metrics.token_served()
        answer = protocol.TokenAnswer.of(token, now=self._service.clock.now(), api=api)
        return _json(200, answer)


def _quiet_logger(say: Callable[[str], None]) -> logging.Logger:
    """aiohttp's own log for requests it cannot parse: one line, never the request.

    Its default logs a traceback holding the raw request bytes, which can hold a
    bearer secret.
    """
    logger = logging.getLogger(f"{__name__}.http")
    logger.propagate = False
    logger.handlers = [_OneLine(say)]
    return logger


class _OneLine(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        what = type(error).__name__ if error is not None else "an unreadable request"
        self._say(f"- rejected a request that is not valid HTTP ({what})")


@attrs.define(eq=False)
class _Lane:
    """One listener's connections, counted for its limits."""

    unix: bool
    count: int = 0
    per_peer: Counter[object] = attrs.field(factory=Counter)
    unproven: dict[_Connection, None] = attrs.field(factory=dict)  # oldest first


@attrs.define(eq=False)
class _Connection:
    """One admitted connection: who is on the other end, and whether they proved it."""

    lane: _Lane
    handler: RequestHandler
    peer: str  # for the log
    key: object  # the peer, for per-peer limits
    owner: bool  # the broker's own uid, on the socket
    allowed: bool  # the socket's verdict (SO_PEERCRED), fixed at connect
    proven: bool = False  # an allowed request came, or an allowed uid connected
    spoke: bool = False  # bytes arrived: a request is on its way
    lost: list[Callable[[], None]] = attrs.field(factory=list)  # called when it closes


class _Admission(asyncio.Protocol):
    """A connection's protocol: admitted by the broker's limits once its peer is known,
    then handed to aiohttp's handler; refused ones are closed at once."""

    def __init__(self, broker: Broker, lane: _Lane, handler: RequestHandler | None) -> None:
        self._broker = broker
        self._lane = lane
        self._handler = handler
        self._connection: _Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._handler is not None:
            self._connection = self._broker._admit(self._lane, self._handler, transport)
        if self._connection is None:
            transport.close()
            return
        self._connection.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._connection is not None:
            self._connection.spoke = True
            self._connection.handler.data_received(data)

    def eof_received(self) -> None:
        if self._connection is not None:
            self._connection.handler.eof_received()  # None: the transport closes

    def pause_writing(self) -> None:
        if self._connection is not None:
            self._connection.handler.pause_writing()

    def resume_writing(self) -> None:
        if self._connection is not None:
            self._connection.handler.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._broker._left(connection)
            connection.handler.connection_lost(exc)


class _ForcedRefreshes:
    """Per peer, a bucket of forced refreshes: ``burst`` at once, refilled one per
    ``interval`` seconds."""

    MAX_PEERS = 1024

    def __init__(self, burst: int, interval: float) -> None:
        self._burst = burst
        self._interval = interval
        self._buckets: dict[object, tuple[float, float]] = {}  # peer: (tokens, when)

    def take(self, peer: object, now: float) -> bool:
        """Whether ``peer`` may force a refresh now (and count it)."""
        tokens, when = self._buckets.get(peer, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - when) / self._interval)
        if tokens < 1.0:
            self._buckets[peer] = (tokens, now)
            return False
        if len(self._buckets) >= self.MAX_PEERS:
            self._forget_full(now)
        self._buckets[peer] = (tokens - 1.0, now)
        return True

    def _forget_full(self, now: float) -> None:
        full = now - self._burst * self._interval
        self._buckets = {peer: kept for peer, kept in self._buckets.items() if kept[1] > full}


class _GroupMembers:
    """Whether a uid belongs to one of the allowed groups, by the user and group
    databases (primary and supplementary groups); answers are kept for a minute."""

    KEPT = 60.0

    def __init__(self, gids: frozenset[int]) -> None:
        self._gids = gids
        self._known: dict[int, tuple[bool, float]] = {}

    def includes(self, uid: int) -> bool:
        if not self._gids:
            return False
        now = time.monotonic()
        known = self._known.get(uid)
        if known is not None and now - known[1] < self.KEPT:
            return known[0]
        member = not self._gids.isdisjoint(_groups_of(uid))
        if len(self._known) > 1024:
            self._known.clear()
        self._known[uid] = (member, now)
        return member


def _groups_of(uid: int) -> set[int]:
    """The groups ``uid`` is a member of; none when it has no user entry (or on Windows,
    which has no user database of uids)."""
    if sys.platform == "win32":
        return set()
    else:
        import pwd  # noqa: PLC0415  (POSIX only)

        try:
            user = pwd.getpwuid(uid)
            return {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
        except (KeyError, OSError):
            return set()


def _printable(text: str, limit: int = 128) -> str:
    """``text`` for a log line: control and non-ASCII characters and backslashes escaped,
    then truncated, so a client can neither forge log lines nor drive a terminal."""
    escaped = text[: limit + 1].encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def _failure(exc: CodexLoginError) -> web.Response:
    """Status and code from the one table (``domain/outcomes.py``); the remedy, once,
    says to act on the host. A login the policy forbids is kept, but not handed out."""
    outcome = outcome_of(exc)
    # The host's "not logged in" may name the host's files: the sandbox hears only this.
    said = "the broker is not logged in" if isinstance(exc, NotLoggedIn) else str(exc)
    return _json(
        outcome.http_status,
        _error(outcome.error_code, on_the_host(said, exc)),
        retry_after=outcome.retry_after,
    )


def _error(code: str, message: str) -> protocol.ErrorAnswer:
    return protocol.ErrorAnswer(code, message)


def _json(
    status: int,
    answer: protocol.TokenAnswer | protocol.ErrorAnswer | protocol.Health,
    *,
    retry_after: bool = False,
) -> web.Response:
    headers = dict(NO_STORE)
    if retry_after:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.Response(
        status=status,
        text=protocol.dumps(answer),
        content_type="application/json",
        headers=headers,
    )


NO_UNIX_SOCKET = (
    "this Python has no Unix sockets (Windows): serve on TCP with a secret, "
    "--tcp PORT --secret-file FILE"
)


# -- listeners ------------------------------------------------------------------------


def unix_listener(path: Path) -> socket.socket:
    """A listening socket at ``path`` (mode 0600, in a 0700 directory).

    A socket file left by a dead broker is replaced; a live broker there, or
    anything that is not a socket, is an error and is left alone.
    """
    if sys.platform == "win32":  # CPython there has no AF_UNIX
        raise ConfigurationError(NO_UNIX_SOCKET)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _replace_stale_socket(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        except OSError as exc:
            listener.close()
            raise ConfigurationError(f"cannot listen on {path}: {exc.strerror or exc}") from exc
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        listener.listen(128)
        return listener


def _replace_stale_socket(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ConfigurationError(
            f"{path} exists and is not a socket; move it away or choose --socket"
        )
    if sys.platform == "win32":  # never called there: no Unix socket to probe
        return
    else:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # a broker that died left it behind
            return
        except OSError as exc:
            raise ConfigurationError(f"cannot check {path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise ConfigurationError(f"another broker is already serving on {path}; stop it first")


def tcp_listener(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0 = any free port)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise ConfigurationError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
        ) from exc
    return listener


def systemd_listeners(listen_pid: str | None, listen_fds: str | None) -> list[socket.socket]:
    """Sockets handed over by systemd socket activation (``LISTEN_PID``, ``LISTEN_FDS``)."""
    if listen_pid != str(os.getpid()):
        return []
    try:
        count = int(listen_fds or "0")
    except ValueError:
        return []
    return [socket.socket(fileno=3 + index) for index in range(count)]
