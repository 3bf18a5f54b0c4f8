"""Signing in with ChatGPT in a browser: the use case and the rules for its callback.

The browser comes back to a loopback HTTP server (an inbound adapter, the
``CallbackListener``). That server hands each callback to ``BrowserLogin.callback``
and turns the answer into a page; every decision is taken here:

- only a callback carrying this login's ``state`` (compared in constant time)
  may end the login; any other is answered and ignored, so a stray request
  cannot kill it;
- an ``iss`` parameter must name the issuer the login was started with, and must
  be there at any issuer but the default, or when the metadata promises it
  (RFC 9207; against a mix-up, RFC 9700 §4.4);
- the issuer's ``error`` ends the login; a missing ``code`` does not;
- the code is exchanged once, whatever arrives;
- the raw ID token goes into the success URL only when the org-setup page needs it.

The address the browser ended on may also be pasted (a browser on another machine,
whose ``localhost`` is not ours): its query goes through the same ``callback``, and
whichever of the two completes first ends the login.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlencode

import attrs

from codex_login.application.pasted_redirect import NotAResponse, pasted_params
from codex_login.application.seam import off_loop
from codex_login.application.signin import LoginOutcome, SignIn
from codex_login.domain.errors import (
    AuthorizationDenied,
    CodexLoginError,
    LoginError,
    LoginTimedOut,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.plans import plan_name

SINGLE_VALUED = ("code", "state", "error", "error_description", "iss")


@attrs.frozen(repr=False)
class Ignored(FieldsRepr):
    """Answer 400 and keep waiting: the request cannot end this login."""

    title: str
    message: str
    retry: bool = False  # whether the page tells the user to start a new login


@attrs.frozen(repr=False)
class Failed(FieldsRepr):
    """The login ended with ``error``; ``status`` is the HTTP status to answer with."""

    error: CodexLoginError
    status: int


@attrs.frozen(repr=False)
class Completed(FieldsRepr):
    """The credentials are stored; send the browser to ``/success?{query}``."""

    outcome: LoginOutcome
    query: str


CallbackAnswer = Ignored | Failed | Completed


class BrowserLogin:
    """One login attempt: its authorization request and what its callback may do."""

    def __init__(self, *, request: AuthorizationRequest, signin: SignIn) -> None:
        self.request = request
        self._signin = signin
        self._exchange: asyncio.Future[LoginOutcome] | None = None
        self.outcome: LoginOutcome | None = None

    @property
    def url(self) -> str:
        return self.request.url

    @property
    def exchange_started(self) -> bool:
        return self._exchange is not None

    def state_matches(self, state: str | None) -> bool:
        """Constant-time comparison with the state sent to the issuer."""
        if state is None:
            return False
        return hmac.compare_digest(state.encode(), self.request.state.encode())

    async def callback(self, params: Mapping[str, Sequence[str]]) -> CallbackAnswer:
        """Decide what one request to the callback path does."""
        repeated = [name for name in SINGLE_VALUED if len(params.get(name, ())) > 1]
        if repeated:
            return Ignored(
                "Invalid sign-in response", f"The parameter {repeated[0]} appears more than once."
            )
        query = {name: values[0] for name, values in params.items() if values}
        if not self.state_matches(query.get("state")):
            return Ignored(
                "Not the sign-in in progress",
                "This response does not belong to the login waiting here. "
                "If you started a newer login, finish it in its own browser tab.",
            )
        if not self.exchange_started:
            refusal = self._refusal(query)
            if refusal is not None:
                return Failed(refusal, 400)
            if not query.get("code"):
                return Ignored(
                    "Sign-in incomplete",
                    "The issuer's response carries no authorization code.",
                    retry=True,
                )
        try:
            outcome = await self.complete(query.get("code", ""))
        except CodexLoginError as exc:
            return Failed(exc, 502)
        return Completed(outcome, urlencode(self.success_query(outcome)))

    async def complete(self, code: str) -> LoginOutcome:
        """Exchange ``code`` and store the credentials; later calls share the first result."""
        if self._exchange is None:
            self._exchange = asyncio.ensure_future(self._exchange_and_store(code))
        return await asyncio.shield(self._exchange)

    def success_query(self, outcome: LoginOutcome) -> list[tuple[str, str]]:
        """What the success page is told (the Codex CLI's parameters)."""
        claims = outcome.id_token
        query = [
            ("needs_setup", "true" if claims.needs_setup else "false"),
            ("org_id", claims.organization_id or ""),
            ("project_id", claims.project_id or ""),
            ("plan_type", _plan(outcome)),
            ("platform_url", self._signin.issuer.platform_url),
        ]
        if claims.needs_setup:
            # The organization setup page needs it; otherwise keep it out of browser history.
            query.append(("id_token", claims.raw))
        return query

    def setup_url(self, outcome: LoginOutcome) -> str | None:
        """Where an org owner who has not finished onboarding goes next, if anywhere."""
        claims = outcome.id_token
        if not claims.needs_setup:
            return None
        query = urlencode(
            [
                ("p", _plan(outcome)),
                ("t", claims.raw),
                ("with_org", claims.organization_id or ""),
                ("project_id", claims.project_id or ""),
            ]
        )
        return f"{self._signin.issuer.platform_url}/org-setup?{query}"

    def _refusal(self, query: Mapping[str, str]) -> LoginError | None:
        iss, error = query.get("iss"), query.get("error")
        config = self._signin.issuer
        issuer = config.issuer
        answered = bool(query.get("code")) or error is not None  # else: incomplete, ignored
        if iss is None and answered and config.requires_iss(self.request.iss_advertised):
            # Without it, a response from another issuer's sign-in page (a mix-up) looks
            # like this one's; its code must not reach this issuer's token endpoint.
            return LoginError(
                f"the sign-in response does not say which issuer sent it (no iss), which "
                f"{issuer} must; nothing was exchanged: check the issuer URL, or sign in again"
            )
        if iss is not None and iss.rstrip("/") != issuer:
            return LoginError(f"the sign-in response came from {iss!r}, not from {issuer}")
        if error is not None:
            return AuthorizationDenied(error, query.get("error_description"))
        return None

    async def _exchange_and_store(self, code: str) -> LoginOutcome:
        grant = await self._signin.endpoint.exchange_code(
            self._signin.issuer,
            code=code,
            redirect_uri=self.request.redirect_uri,
            verifier=self.request.verifier,
        )
        self.outcome = await self._signin.store_grant(grant)
        return self.outcome


class CallbackListener(Protocol):
    """The loopback HTTP server the issuer redirects the browser back to."""

    @property
    def redirect_uri(self) -> str: ...

    async def start(self, port: int | None = None) -> int:
        """Listen (on ``port``, or the default ports); return the port bound."""
        ...

    def attach(self, login: BrowserLogin) -> None:
        """Route callbacks to ``login`` from now on."""
        ...

    async def wait(self, timeout: float) -> LoginOutcome:
        """The outcome once the login ended; raises its error, or LoginTimedOut."""
        ...

    async def close(self) -> None: ...


async def login_in_browser(
    begin: Callable[[str], Awaitable[BrowserLogin]],
    listener: CallbackListener,
    *,
    announce: Callable[[str, int], None],
    open_browser: Callable[[str], bool] | None = None,
    port: int | None = None,
    timeout: float = 15 * 60,
    pasted: AsyncIterable[str] | None = None,
    refused: Callable[[str], None] = lambda reason: None,
) -> LoginOutcome:
    """The whole browser login: listen, show the URL, wait for the issuer's redirect.

    ``begin(redirect_uri)`` makes the authorization request; ``announce(url, port)``
    shows its URL; ``open_browser(url)`` may open it. ``pasted`` yields lines a user
    pastes (the address the browser ended on); ``refused(reason)`` is told why one
    cannot complete the login. Its end only stops the pastes, not the login. A login
    stored just as the time ran out counts as done. The port is released whatever
    happens.
    """
    bound = await listener.start(port)
    try:
        login = await begin(listener.redirect_uri)
        listener.attach(login)
        announce(login.url, bound)
        if open_browser is not None:
            await off_loop(open_browser, login.url)
        try:
            return await _first_to_complete(listener, login, pasted, refused, timeout)
        except LoginTimedOut:
            if login.outcome is not None:
                return login.outcome
            raise
    finally:
        await listener.close()


async def _first_to_complete(
    listener: CallbackListener,
    login: BrowserLogin,
    pasted: AsyncIterable[str] | None,
    refused: Callable[[str], None],
    timeout: float,
) -> LoginOutcome:
    """The callback and the pastes race; the first to end the login wins."""
    callback = asyncio.ensure_future(listener.wait(timeout))
    if pasted is None:
        return await callback
    pastes = asyncio.ensure_future(_from_pastes(login, pasted, refused))
    try:
        await asyncio.wait({callback, pastes}, return_when=asyncio.FIRST_COMPLETED)
        outcome = pastes.result() if pastes.done() else None  # raises a paste's failure
        if outcome is not None:
            return outcome
        return await callback  # the pastes ran out (stdin closed): only the callback is left
    finally:
        for task in (callback, pastes):
            task.cancel()
        await asyncio.gather(callback, pastes, return_exceptions=True)


async def _from_pastes(
    login: BrowserLogin, pasted: AsyncIterable[str], refused: Callable[[str], None]
) -> LoginOutcome | None:
    """Each pasted line goes through ``callback``; None once there are no more lines."""
    async for text in pasted:
        try:
            params = pasted_params(text, login.request.redirect_uri)
        except NotAResponse as exc:
            refused(str(exc))
            continue
        if params is None:
            continue
        try:
            answer = await login.callback(params)
        except Exception as exc:  # a bug must end the login visibly, as on the callback path
            raise LoginError(f"the sign-in failed unexpectedly ({type(exc).__name__})") from exc
        if isinstance(answer, Failed):
            raise answer.error
        if isinstance(answer, Completed):
            return answer.outcome
        refused(answer.message)
    return None


def _plan(outcome: LoginOutcome) -> str:
    plan = outcome.id_token.plan
    return plan_name(plan) if plan is not None else ""
