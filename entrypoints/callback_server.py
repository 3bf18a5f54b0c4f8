"""The loopback HTTP server a browser login returns to: an inbound adapter.

Routes: ``/auth/callback`` (the issuer's redirect, handed to the application's
``BrowserLogin.callback``), ``/success`` (served only once the credentials are
committed), ``/cancel`` (a newer login taking over the port). Anything else is
404, other methods 405, and a request whose Host is not this loopback port is
refused (DNS rebinding). What a callback may do is decided by the application;
this module turns its answers into pages. Once the login has ended, a callback
for it and a second visit to ``/success`` show that it is already finished; they
no longer reach the application.

Every local user can reach a loopback port, so:

- the redirect URI says ``localhost``, which a browser may send to 127.0.0.1 or to
  ::1: the server listens on both, on the same port (on 127.0.0.1 alone only where
  the machine has no IPv6 loopback, so no one else can listen on ::1 either), and
  never on one while another program holds the other;
- ``/cancel`` obeys only a request carrying this login's secret, which only a newer
  login of the same user can read (``adapters.port_claims``);
- ``/success`` (whose org-setup page carries the raw ID token) answers only the
  browser the callback redirected: the redirect carries a one-time nonce, and
  without it ``/success`` is 404, as before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from codex_login.adapters.port_claims import PortClaim, PortClaims
from codex_login.application.browser_login import BrowserLogin, Completed, Failed
from codex_login.application.signin import LoginOutcome
from codex_login.domain.errors import (
    CallbackPortUnavailable,
    CodexLoginError,
    LoginCancelled,
    LoginError,
    LoginTimedOut,
)
from codex_login.entrypoints.http_answers import NO_STORE
from codex_login.entrypoints.pages import (
    already_finished_page,
    failure_page,
    method_not_allowed_page,
    not_found_page,
    notice_page,
    success_page,
)

log = logging.getLogger(__name__)

DEFAULT_PORTS = (1455, 1457)
CALLBACK_PATH = "/auth/callback"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ANY_PORT_TRIES = 8  # port 0: free on 127.0.0.1 is not always free on ::1


class PortTaken(Exception):
    """Another program listens on ``address``, one of the two loopback addresses."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address

    @property
    def on_ipv6(self) -> bool:
        return self.address.startswith("[")


class CallbackServer:
    """Serves one login at a time on 127.0.0.1 and ::1.

    ``claims`` records who may cancel it (see ``adapters.port_claims``); without one
    no other process can cancel this login.
    """

    def __init__(
        self,
        *,
        ports: tuple[int, ...] = DEFAULT_PORTS,
        takeover_grace: float = 2.0,
        success_grace: float = 10.0,
        claims: PortClaims | None = None,
    ) -> None:
        self._ports = ports
        self._grace = takeover_grace
        self._success_grace = success_grace
        self._claims = claims if claims is not None else PortClaims(None)
        self._claim: PortClaim | None = None
        self._login: BrowserLogin | None = None
        self._outcome: LoginOutcome | None = None
        self._success_nonce: str | None = None
        self._success_shown = False
        self._done: asyncio.Future[LoginOutcome] | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._allowed_hosts: frozenset[str] = frozenset()

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}{CALLBACK_PATH}"

    # -- life cycle -------------------------------------------------------------------

    async def start(self, port: int | None = None) -> int:
        """Bind ``port``, or by default 1455 then 1457, taking over from a stale login."""
        self._done = asyncio.get_running_loop().create_future()
        app = web.Application(middlewares=[self._check_host, self._error_pages])
        app.router.add_get(CALLBACK_PATH, self._callback, allow_head=False)
        app.router.add_get("/success", self._success, allow_head=False)
        app.router.add_get("/cancel", self._cancel, allow_head=False)
        # No access log: callback URLs carry the code and state.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        runner = self._runner
        await runner.setup()
        candidates = self._ports if port is None else (port,)
        taken: list[PortTaken] = []
        for candidate in candidates:
            try:
                return await self._serve(runner, await self._take_port(candidate))
            except PortTaken as exc:
                log.info("cannot use port %d: %s is held by another program", candidate, exc)
                taken.append(exc)
            except BaseException:
                await self.close()
                raise
        await self.close()
        raise CallbackPortUnavailable(_ports_taken(candidates, taken))

    def attach(self, login: BrowserLogin) -> None:
        self._login = login

    async def wait(self, timeout: float) -> LoginOutcome:
        if self._done is None:
            raise RuntimeError("start() the callback server before waiting on it")
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError as exc:
            raise LoginTimedOut(f"no sign-in arrived within {_duration(timeout)}") from exc

    def cancel(self, reason: str) -> None:
        self._finish(LoginCancelled(reason))

    async def close(self) -> None:
        if self._claim is not None:  # before the port is let go: a newer login may claim it
            self._claims.remove(self._claim)
            self._claim = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- port policy --------------------------------------------------------------------

    async def _take_port(self, port: int) -> list[socket.socket]:
        """Both loopback listeners on ``port``, after asking a stale login there to go.

        Raises PortTaken naming the address another program keeps.
        """
        try:
            return _listen_loopback(port)
        except PortTaken as exc:
            if exc.on_ipv6:  # a login of ours holds 127.0.0.1 too: this is someone else
                raise
            taken = exc
        log.info("port %d is busy; asking a previous login there to cancel", port)
        await _ask_previous_login_to_cancel(port, self._claims.secret_for(port))
        deadline = time.monotonic() + self._grace
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the previous login needs a moment to let go
            try:
                return _listen_loopback(port)
            except PortTaken as exc:
                taken = exc
        raise taken

    async def _serve(self, runner: web.AppRunner, listeners: list[socket.socket]) -> int:
        """Answer on ``listeners`` (one port), and tell this user's next login the secret."""
        port = self.port = int(listeners[0].getsockname()[1])
        self._allowed_hosts = frozenset(
            f"{host}:{self.port}" for host in ("localhost", "127.0.0.1", "[::1]")
        )
        self._claim = PortClaim.new(self.port)
        self._claims.write(self._claim)
        for listener in listeners:
            await web.SockSite(runner, listener).start()
        return port

    # -- routes -------------------------------------------------------------------------

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host", "").lower() not in self._allowed_hosts:
            return _html(
                403,
                notice_page("Wrong address", "This server only answers on localhost."),
            )
        return await handler(request)

    @web.middleware
    async def _error_pages(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp's plain-text 404 and 405 become pages like the others."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _html(404, not_found_page())
        except web.HTTPMethodNotAllowed as exc:
            response = _html(405, method_not_allowed_page())
            response.headers["Allow"] = exc.headers.get("Allow", "GET")
            return response

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        login = self._login
        if login is None:
            return _html(
                400,
                notice_page("Not the sign-in in progress", "No sign-in is waiting here."),
            )
        query = request.rel_url.query
        params = {name: query.getall(name) for name in query}
        if self._ended() and login.state_matches(_only(params.get("state", []))):
            # Reloaded, or late: it must not start an exchange for a login that is over.
            return self._already_finished()
        try:
            answer = await login.callback(params)
        except Exception as exc:  # a bug must end the login visibly, not leave it waiting
            log.debug("the sign-in failed unexpectedly", exc_info=True)
            failure = LoginError(f"the sign-in failed unexpectedly ({type(exc).__name__})")
            self._finish(failure)
            return _html(500, failure_page(failure))
        if isinstance(answer, Failed):
            self._finish(answer.error)
            return _html(answer.status, failure_page(answer.error))
        if isinstance(answer, Completed):
            if self._outcome is None:
                self._outcome = answer.outcome
                self._success_nonce = secrets.token_urlsafe(32)
                # The credentials are stored: finish even if the browser never shows /success.
                loop = asyncio.get_running_loop()
                loop.call_later(self._success_grace, self._finish, answer.outcome)
            nonce = urlencode({"nonce": self._success_nonce})
            raise web.HTTPFound(f"/success?{answer.query}&{nonce}")
        return _html(400, notice_page(answer.title, answer.message, retry=answer.retry))

    async def _success(self, request: web.Request) -> web.StreamResponse:
        outcome = self._outcome
        if outcome is None or not _matches(request, "nonce", self._success_nonce):
            raise web.HTTPNotFound()  # not yet, or not the browser the callback redirected
        if self._success_shown:
            return self._already_finished()
        self._success_shown = True
        setup = self._login.setup_url(outcome) if self._login else None
        response = _html(200, success_page(email=outcome.id_token.email, setup_url=setup))
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        self._finish(outcome)
        return response

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        """A newer login taking over the port; never a web page, never a login mid-exchange."""
        if _from_a_web_page(request):
            return _html(403, notice_page("Not allowed", "Web pages cannot cancel a sign-in."))
        if self._claim is None or not _matches(request, "secret", self._claim.secret):
            return _html(
                403,
                notice_page(
                    "Not allowed", "Only a newer sign-in by the same user can cancel this one."
                ),
            )
        if self._login is not None and self._login.exchange_started:
            return _html(
                409, notice_page("Signing in", "This sign-in is finishing. Try again shortly.")
            )
        self.cancel("cancelled: another login took over the callback port")
        return _html(200, notice_page("Sign-in cancelled", "This sign-in was cancelled."))

    # -- helpers ------------------------------------------------------------------------

    def _ended(self) -> bool:
        return self._done is not None and self._done.done()

    def _already_finished(self) -> web.Response:
        """200 when the login ended signed in, 410 when it ended any other way."""
        done = self._done
        if done is not None and done.done():
            signed_in = not done.cancelled() and done.exception() is None
        else:
            signed_in = self._outcome is not None  # /success again before the login wound up
        return _html(200 if signed_in else 410, already_finished_page(signed_in=signed_in))

    def _finish(self, result: LoginOutcome | CodexLoginError) -> None:
        if self._done is None or self._done.done():
            return
        if isinstance(result, CodexLoginError):
            self._done.set_exception(result)
        else:
            self._done.set_result(result)


def _only(values: list[str]) -> str | None:
    return values[0] if len(values) == 1 else None


def _matches(request: web.Request, name: str, expected: str | None) -> bool:
    """Whether the query's one ``name`` equals ``expected`` (compared in constant time)."""
    given = _only(request.rel_url.query.getall(name, []))
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _from_a_web_page(request: web.Request) -> bool:
    """Browsers label requests a page makes; a login taking over the port sends neither."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    return "Origin" in request.headers or fetch_site not in (None, "none")


def _listen_loopback(port: int) -> list[socket.socket]:
    """Listen on 127.0.0.1 and ::1 on ``port`` (0: a port free on both).

    ::1 is left out only where the machine has no IPv6 loopback. Raises PortTaken
    when another program holds either address.
    """
    for _ in range(ANY_PORT_TRIES if port == 0 else 1):
        v4 = _listen(socket.AF_INET, "127.0.0.1", port)
        bound = v4.getsockname()[1]
        try:
            v6 = _listen(socket.AF_INET6, "::1", bound)
        except PortTaken:
            v4.close()
            continue  # port 0: another free port may be free on both
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                log.info("no IPv6 loopback here: listening on 127.0.0.1 only")
                return [v4]
            v4.close()
            raise CallbackPortUnavailable(
                f"cannot listen on [::1]:{bound}: {exc.strerror}"
            ) from exc
        return [v4, v6]
    raise PortTaken(f"[::1]:{port}")


def _listen(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """A listening socket; PortTaken when the address is in use, else OSError."""
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind((host, port))
        listener.listen(16)
    except OSError as exc:
        listener.close()
        address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(address) from exc
        if family == socket.AF_INET:
            raise CallbackPortUnavailable(f"cannot listen on {address}: {exc.strerror}") from exc
        raise
    listener.setblocking(False)
    return listener


def _ports_taken(ports: tuple[int, ...], taken: list[PortTaken]) -> str:
    """One line: which addresses other programs hold, and what to do."""
    names = " and ".join(str(port) for port in ports)
    holders = " and ".join(exc.address for exc in taken)
    verb, them = ("is", "it") if len(taken) == 1 else ("are", "them")
    message = (
        f"cannot listen on localhost port {names}: {holders} {verb} in use by another "
        f"program; free {them} or choose another port with --port"
    )
    if any(exc.on_ipv6 for exc in taken):
        message += " (a browser may send localhost to 127.0.0.1 or to [::1], so both are needed)"
    return message


async def _ask_previous_login_to_cancel(port: int, secret: str | None) -> None:
    """``GET /cancel``, with our own stale login's secret when we have one.

    Without one the plain request still ends a Codex CLI login, which obeys anyone.
    """
    query = f"?{urlencode({'secret': secret})}" if secret else ""
    url = f"http://127.0.0.1:{port}/cancel{query}"
    timeout = aiohttp.ClientTimeout(total=1.0)
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Host": f"localhost:{port}"}) as response,
        ):
            await response.read()


def _html(status: int, page: str) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html", headers=NO_STORE)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"
