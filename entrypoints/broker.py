"""The token broker (``codex-login serve``): an HTTP entrypoint handing out access tokens.

The host runs one broker that owns the login; sandboxes and containers ask it
for a short-lived access token and never see the refresh token, the ID token
or the stored record. Tokens come from the application service, so the broker
refreshes through the same single-flight protocol as every other process.

Routes (every answer JSON, ``Cache-Control: no-store``):

- ``GET /v1/token``: ``{access_token, token_type, expires_at, expires_in,
  account_id, mode}``, refreshed first when due;
- ``POST /v1/token/refresh`` with ``{"stale": token}``: a token a server refused;
  refreshed unless that is no longer the current one;
- ``GET /healthz``.

Who may ask: on a Unix socket, peers whose uid (``SO_PEERCRED``) or gid is
allowed; on loopback TCP, requests carrying ``Authorization: Bearer <secret>``.
Bounded: body and header sizes, live connections, a deadline for a connection's
first request (slow clients), and a per-request timeout. One access-log line per
request, never a token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
import stat
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.application.service import AuthService
from codex_login.domain.errors import (
    CodexLoginError,
    ConfigurationError,
    CredentialsError,
    NotLoggedIn,
    PolicyViolation,
    SessionEnded,
    StorageError,
    TransientTokenError,
)
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
RETRY_AFTER_SECONDS = 10
MODE_NAMES = {AuthMode.CHATGPT: "chatgpt", AuthMode.API_KEY: "api_key"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class Limits:
    """What one client can make the broker hold."""

    max_connections: int = 512
    max_body: int = 4096
    max_header: int = 4096
    max_headers: int = 32
    first_request_deadline: float = 10.0
    request_timeout: float = 75.0  # a refresh may take the issuer's full 60 s
    keepalive: float = 15.0
    shutdown_grace: float = 30.0


@attrs.frozen
class Access:
    """Who may ask: uids and gids on the Unix socket, the secret on TCP."""

    uids: frozenset[int] = attrs.field(factory=lambda: frozenset({os.getuid()}))
    gids: frozenset[int] = frozenset()
    secret: str | None = attrs.field(default=None, repr=False)


class Broker:
    """The aiohttp application and its listeners."""

    def __init__(
        self,
        service: AuthService,
        *,
        access: Access | None = None,
        limits: Limits | None = None,
        access_log: Callable[[str], None] | None = None,
    ) -> None:
        self._service = service
        self._access = access or Access()
        self._limits = limits or Limits()
        self._say = access_log or log.info
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.AbstractServer] = []
        # Connections that have not sent a request yet; each is dropped at its deadline.
        self._silent: set[RequestHandler] = set()

    # -- life cycle -------------------------------------------------------------------

    async def start(self, listeners: Iterable[socket.socket]) -> None:
        """Serve on already bound, listening sockets (see ``unix_listener``, ``tcp_listener``)."""
        app = web.Application(
            middlewares=[self._guard],
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
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self._limits.shutdown_grace
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        for listener in listeners:
            listener.setblocking(False)
            # asyncio listens again with its own backlog (100): a burst of clients on a
            # Unix socket would then fail at once (EAGAIN) instead of waiting their turn.
            backlog = self._limits.max_connections
            if listener.family == socket.AF_UNIX:
                server = await loop.create_unix_server(
                    self._protocol, sock=listener, backlog=backlog
                )
            else:
                server = await loop.create_server(self._protocol, sock=listener, backlog=backlog)
            self._servers.append(server)

    async def stop(self) -> None:
        """Stop accepting and let the requests in flight finish."""
        for server in self._servers:
            server.close()
        # A connection accepted just now has sent nothing yet; nothing would wake it.
        for handler in list(self._silent):
            handler.force_close()
        self._silent.clear()
        # No wait_closed(): since Python 3.12.1 it waits for every connection, and a
        # keep-alive client would hold it forever; the runner's cleanup below is what
        # lets the requests in flight finish and closes the connections, bounded.
        self._servers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- connections ----------------------------------------------------------------

    def _protocol(self) -> asyncio.BaseProtocol:
        """One connection: refused beyond the cap; closed if no request arrives in time."""
        server = self._runner.server if self._runner else None
        if server is None:  # a connection racing stop(): nothing serves it any more
            return _Refuse()
        if len(server.connections) >= self._limits.max_connections:
            return _Refuse()
        handler = server()
        self._silent.add(handler)
        asyncio.get_running_loop().call_later(
            self._limits.first_request_deadline, self._drop_if_silent, handler
        )
        return handler

    def _drop_if_silent(self, handler: RequestHandler) -> None:
        if handler in self._silent:
            self._silent.discard(handler)
            handler.force_close()

    # -- access -----------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who may ask, a deadline, JSON for every answer, and one access-log line."""
        self._silent.discard(request.protocol)
        started = time.perf_counter()
        peer, allowed = self._peer(request)
        if not allowed:
            response: web.StreamResponse = _json(403, _error("forbidden", "not allowed here"))
        else:
            response = await self._answer(request, handler)
        elapsed = (time.perf_counter() - started) * 1000
        self._say(f"{peer} {request.method} {request.path} {response.status} {elapsed:.1f}ms")
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await asyncio.wait_for(handler(request), self._limits.request_timeout)
        except web.HTTPException as exc:
            return _json(exc.status, _error(exc.reason.lower().replace(" ", "_"), exc.reason))
        except TimeoutError:
            return _json(
                503,
                _error("timeout", "the token took too long; try again"),
                retry_after=True,
            )
        except Exception as exc:  # a bug: answered, logged without details, never a traceback
            log.debug("the broker failed unexpectedly", exc_info=True)
            return _json(500, _error("broker_error", f"unexpected {type(exc).__name__}"))

    def _peer(self, request: web.Request) -> tuple[str, bool]:
        """(who is asking, for the log; whether they may)."""
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and sock.family == socket.AF_UNIX:
            pid, uid, gid = struct.unpack(
                "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            )
            allowed = uid in self._access.uids or gid in self._access.gids
            return f"uid={uid} pid={pid}", allowed
        address = request.remote or "?"
        return address, self._secret_matches(request.headers.get("Authorization", ""))

    def _secret_matches(self, header: str) -> bool:
        secret = self._access.secret
        if not secret:
            return False
        given = header.removeprefix("Bearer ").encode()
        return header.startswith("Bearer ") and hmac.compare_digest(given, secret.encode())

    # -- routes -----------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(self._service.auth())

    async def _refresh(self, request: web.Request) -> web.StreamResponse:
        try:
            document = await request.json()
        except ValueError:
            document = None
        stale = document.get("stale") if isinstance(document, dict) else None
        if not isinstance(stale, str) or not stale:
            return _json(400, _error("bad_request", 'send {"stale": "<the refused token>"}'))
        return await self._serve(self._service.refresh(stale=stale))

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return _json(200, {"status": "ok"})

    async def _serve(self, getting: Awaitable[AccessToken]) -> web.StreamResponse:
        try:
            token = await getting
        except CodexLoginError as exc:
            return _failure(exc)
        return _json(200, self._token_document(token))

    def _token_document(self, token: AccessToken) -> dict[str, Any]:
        expires_in = None
        if token.expires_at is not None:
            remaining = token.expires_at - self._service.clock.now()
            expires_in = max(0, int(remaining.total_seconds()))
        return {
            "access_token": token.token,
            "token_type": "Bearer",
            "expires_at": _rfc3339(token.expires_at),
            "expires_in": expires_in,
            "account_id": token.account_id,
            "mode": MODE_NAMES[token.mode],
        }


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


class _Refuse(asyncio.Protocol):
    """A connection beyond the cap: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


def _failure(exc: CodexLoginError) -> web.Response:
    host = "on the host, run `codex-login login`"
    if isinstance(exc, SessionEnded):
        return _json(401, _error("session_ended", f"{exc}; {host}"))
    if isinstance(exc, NotLoggedIn):
        return _json(401, _error("not_logged_in", f"the broker is not logged in; {host}"))
    if isinstance(exc, PolicyViolation):  # the login is kept, but not handed out
        return _json(401, _error("policy_refused", f"{exc}; {host}"))
    if isinstance(exc, CredentialsError):  # a foreign or malformed login: a person must act
        return _json(401, _error("login_unusable", f"{exc} (on the host)"))
    if isinstance(exc, TransientTokenError | StorageError):
        return _json(503, _error("unavailable", str(exc)), retry_after=True)
    return _json(500, _error("broker_error", str(exc)))


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def _json(status: int, document: dict[str, Any], *, retry_after: bool = False) -> web.Response:
    headers = dict(NO_STORE)
    if retry_after:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.Response(
        status=status,
        text=json.dumps(document),
        content_type="application/json",
        headers=headers,
    )


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


# -- listeners ------------------------------------------------------------------------


def unix_listener(path: Path) -> socket.socket:
    """A listening socket at ``path`` (mode 0600, in a 0700 directory).

    A socket file left by a dead broker is replaced; a live broker there, or
    anything that is not a socket, is an error and is left alone.
    """
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


def systemd_listeners(environ: dict[str, str] | os._Environ[str]) -> list[socket.socket]:
    """Sockets handed over by systemd socket activation (``LISTEN_FDS``), if any."""
    if environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    return [socket.socket(fileno=3 + index) for index in range(count)]
