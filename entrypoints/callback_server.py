"""The loopback HTTP server a browser login returns to (the HTTP entrypoint).

Routes: ``/auth/callback`` (the issuer's redirect), ``/success`` (served only once
the credentials are committed), ``/cancel`` (a newer login taking over the port).
Anything else is 404, other methods 405, and a request whose Host is not this
loopback port is refused (DNS rebinding). A callback without the right ``state``
is answered 400 and changes nothing: only the real redirect can end the login.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from codex_login.application.browser_login import BrowserLogin
from codex_login.application.service import AuthService
from codex_login.application.signin import LoginOutcome
from codex_login.domain.errors import (
    AuthorizationDenied,
    CallbackPortUnavailable,
    CodexLoginError,
    LoginCancelled,
    LoginError,
    LoginTimedOut,
)
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.plans import plan_name
from codex_login.entrypoints.pages import error_page, notice_page, success_page

log = logging.getLogger(__name__)

DEFAULT_PORTS = (1455, 1457)
CALLBACK_PATH = "/auth/callback"
SINGLE_VALUED = ("code", "state", "error", "error_description", "iss")
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CallbackServer:
    """Serves one login at a time on 127.0.0.1."""

    def __init__(
        self,
        issuer: IssuerConfig,
        *,
        ports: tuple[int, ...] = DEFAULT_PORTS,
        takeover_grace: float = 2.0,
        success_grace: float = 10.0,
    ) -> None:
        self._issuer = issuer
        self._ports = ports
        self._grace = takeover_grace
        self._success_grace = success_grace
        self._login: BrowserLogin | None = None
        self._outcome: LoginOutcome | None = None
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
        app = web.Application(middlewares=[self._check_host])
        app.router.add_get(CALLBACK_PATH, self._callback, allow_head=False)
        app.router.add_get("/success", self._success, allow_head=False)
        app.router.add_get("/cancel", self._cancel, allow_head=False)
        # No access log: callback URLs carry the code and state.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        candidates = self._ports if port is None else (port,)
        for candidate in candidates:
            try:
                listener = await self._claim(candidate)
            except BaseException:
                await self.close()
                raise
            if listener is not None:
                self.port = listener.getsockname()[1]
                self._allowed_hosts = frozenset(
                    f"{host}:{self.port}" for host in ("localhost", "127.0.0.1", "[::1]")
                )
                await web.SockSite(self._runner, listener).start()
                return self.port
        await self.close()
        names = " and ".join(str(p) for p in candidates)
        raise CallbackPortUnavailable(
            f"cannot listen on 127.0.0.1 port {names}: in use by another program; "
            "free it or choose another with --port"
        )

    def attach(self, login: BrowserLogin) -> None:
        self._login = login

    async def wait(self, timeout: float) -> LoginOutcome:
        if self._done is None:
            raise RuntimeError("start() the callback server before waiting on it")
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            raise LoginTimedOut(
                f"no sign-in arrived within {_duration(timeout)}; run `codex-login login` again"
            ) from None

    def cancel(self, reason: str) -> None:
        self._finish(LoginCancelled(reason))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- port policy --------------------------------------------------------------------

    async def _claim(self, port: int) -> socket.socket | None:
        try:
            return _listen(port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise CallbackPortUnavailable(
                    f"cannot listen on 127.0.0.1:{port}: {exc.strerror}"
                ) from None
        log.info("port %d is busy; asking a previous login there to cancel", port)
        await _ask_previous_login_to_cancel(port)
        deadline = time.monotonic() + self._grace
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the previous login needs a moment to let go
            with contextlib.suppress(OSError):
                return _listen(port)
        return None

    # -- routes -------------------------------------------------------------------------

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host", "").lower() not in self._allowed_hosts:
            return _html(
                403,
                error_page("Wrong address", "This server only answers on localhost.", retry=False),
            )
        return await handler(request)

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        login = self._login
        repeated = [name for name in SINGLE_VALUED if len(query.getall(name, [])) > 1]
        if repeated:
            return _html(
                400,
                error_page(
                    "Invalid sign-in response",
                    f"The parameter {repeated[0]} appears more than once.",
                    retry=False,
                ),
            )
        if login is None or not login.state_matches(query.get("state")):
            return _html(
                400,
                error_page(
                    "Not the sign-in in progress",
                    "This response does not belong to the login waiting here. "
                    "If you started a newer login, finish it in its own browser tab.",
                    retry=False,
                ),
            )
        if not login.exchange_started:
            problem = self._refusal(
                query.get("iss"), query.get("error"), query.get("error_description")
            )
            if problem is not None:
                self._finish(problem)
                return _html(400, error_page("Sign-in failed", str(problem)))
            if not query.get("code"):
                return _html(
                    400,
                    error_page(
                        "Sign-in incomplete", "The issuer's response carries no authorization code."
                    ),
                )
        try:
            self._outcome = await login.complete(query.get("code", ""))
        except CodexLoginError as exc:
            self._finish(exc)
            return _html(502, error_page("Sign-in failed", str(exc)))
        except Exception as exc:  # a bug must end the login visibly, not leave it waiting
            log.debug("the sign-in failed unexpectedly", exc_info=True)
            failure = LoginError(f"the sign-in failed unexpectedly ({type(exc).__name__})")
            self._finish(failure)
            return _html(500, error_page("Sign-in failed", str(failure)))
        # The credentials are stored: finish even if the browser never shows /success.
        asyncio.get_running_loop().call_later(self._success_grace, self._finish, self._outcome)
        raise web.HTTPFound(f"/success?{urlencode(self._success_query(self._outcome))}")

    def _refusal(
        self, iss: str | None, error: str | None, description: str | None
    ) -> LoginError | None:
        if iss is not None and iss.rstrip("/") != self._issuer.issuer:
            return LoginError(
                f"the sign-in response came from {iss!r}, not from {self._issuer.issuer}"
            )
        if error is not None:
            return AuthorizationDenied(error, description)
        return None

    async def _success(self, request: web.Request) -> web.StreamResponse:
        outcome = self._outcome
        if outcome is None:
            raise web.HTTPNotFound()
        claims = outcome.id_token
        setup = self._setup_url(outcome) if claims.needs_setup else None
        response = _html(200, success_page(email=claims.email, setup_url=setup))
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        self._finish(outcome)
        return response

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        """A newer login taking over the port; never a web page, never a login mid-exchange."""
        if _from_a_web_page(request):
            return _html(
                403, error_page("Not allowed", "Web pages cannot cancel a login.", retry=False)
            )
        if self._login is not None and self._login.exchange_started:
            return _html(409, notice_page("Signing in", "This login is finishing; try again."))
        self.cancel("cancelled: another login took over the callback port")
        return _html(200, notice_page("Login cancelled", "This login was cancelled."))

    # -- helpers ------------------------------------------------------------------------

    def _success_query(self, outcome: LoginOutcome) -> list[tuple[str, str]]:
        claims = outcome.id_token
        query = [
            ("needs_setup", "true" if claims.needs_setup else "false"),
            ("org_id", claims.organization_id or ""),
            ("project_id", claims.project_id or ""),
            ("plan_type", _plan(outcome)),
            ("platform_url", self._issuer.platform_url),
        ]
        if claims.needs_setup:
            # The organization setup page needs it; otherwise keep it out of browser history.
            query.append(("id_token", claims.raw))
        return query

    def _setup_url(self, outcome: LoginOutcome) -> str:
        claims = outcome.id_token
        query = urlencode(
            [
                ("p", _plan(outcome)),
                ("t", claims.raw),
                ("with_org", claims.organization_id or ""),
                ("project_id", claims.project_id or ""),
            ]
        )
        return f"{self._issuer.platform_url}/org-setup?{query}"

    def _finish(self, result: LoginOutcome | CodexLoginError) -> None:
        if self._done is None or self._done.done():
            return
        if isinstance(result, CodexLoginError):
            self._done.set_exception(result)
        else:
            self._done.set_result(result)


def _from_a_web_page(request: web.Request) -> bool:
    """Browsers label requests a page makes; a login taking over the port sends neither."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    return "Origin" in request.headers or fetch_site not in (None, "none")


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


async def _ask_previous_login_to_cancel(port: int) -> None:
    url = f"http://127.0.0.1:{port}/cancel"
    timeout = aiohttp.ClientTimeout(total=1.0)
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Host": f"localhost:{port}"}) as response,
        ):
            await response.read()


def _html(status: int, page: str) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html", headers=NO_STORE)


def _plan(outcome: LoginOutcome) -> str:
    plan = outcome.id_token.plan
    return plan_name(plan) if plan is not None else ""


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"


async def login_in_browser(
    service: AuthService,
    *,
    announce: Callable[[str, int], None],
    open_browser: Callable[[str], bool] | None = None,
    port: int | None = None,
    timeout: float = 15 * 60,
    server: CallbackServer | None = None,
) -> LoginOutcome:
    """The whole browser login: listen, show the URL, wait for the issuer's redirect.

    ``announce(url, port)`` shows the authorization URL; ``open_browser(url)`` may
    open it. The port is released whatever happens, Ctrl-C included.
    """
    server = server or CallbackServer(service.issuer)
    bound = await server.start(port)
    try:
        login = service.begin_browser_login(redirect_uri=server.redirect_uri)
        server.attach(login)
        announce(login.url, bound)
        if open_browser is not None:
            await asyncio.to_thread(open_browser, login.url)
        return await server.wait(timeout)
    finally:
        await server.close()
