"""``FakeIssuer``: the state, its aiohttp app and a fake browser, as tests use them."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from codex_login.testing.issuer import browser
from codex_login.testing.issuer.app import issuer_app
from codex_login.testing.issuer.state import IssuerState
from codex_login.testing.issuer.values import Failure, Visit

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock


class FakeIssuer(IssuerState):
    """An OAuth issuer to run with ``running_issuer``; ``url`` is set once it listens.

    What it hands out (change before or between requests):

    - ``plan``: the ChatGPT plan in new ID tokens, refreshes included; ``claims``:
      more keywords for ``codex_login.testing.tokens.id_token`` (``email``,
      ``account_id``, ``organization_id``...) for the logins that start from now on
      (a login's refreshes keep the claims it signed in with: the same user);
    - ``access_ttl``: the lifetime of new access tokens (``exp``, with ``iat``),
      measured on ``clock`` (default: the system clock);
    - ``api_key``: what the API-key exchange returns;
    - ``authorize_error``: when set, the authorize endpoint sends the browser back
      with this ``error`` (a user who declined) instead of a code;
    - ``sign_in_page``: when True, the authorize endpoint shows a one-click sign-in
      page (for a person at a real browser) instead of redirecting at once;
    - ``sends_iss``: False leaves RFC 9207's ``iss`` out of the redirect back, as an
      issuer that does not implement it does;
    - ``metadata``: merged over the discovery document (a None value removes a key);
    - ``device_interval``, ``device_slow_downs`` (answer ``slow_down`` this many
      times first, RFC 8628);
    - ``workload_rules`` (``trust_workload(rule_id, WorkloadRule(...))``): the
      federation rules a workload-identity exchange (the JWT-bearer grant) is checked
      against, and whom each signs in.
    - ``add_access_token(...)``: an ``at-…`` token whoami answers for (at
      ``authapi_base_url``, what CODEX_AUTHAPI_BASE_URL is set to); any other is 401.

    How it misbehaves, per endpoint name (``ENDPOINTS``):

    - ``failures[name] = Failure(...)``: answer with that instead;
    - ``gates[name] = threading.Event()``: hold every answer until the test sets
      the event (at most ``gate_timeout`` seconds), to catch a client mid-request;
    - ``exchange_delay``: seconds to wait before answering a code exchange.

    What tests read: ``requests`` (every request, in order), ``posts(grant_type)``,
    ``requests_to(path)``, ``refresh_token_works(token)``, ``devices``, ``visits``.
    """

    def __init__(
        self,
        *,
        plan: str = "pro",
        access_ttl: timedelta = timedelta(hours=1),
        clock: Clock | None = None,
        sign_in_page: bool = False,
    ) -> None:
        super().__init__(plan=plan, access_ttl=access_ttl, clock=clock, sign_in_page=sign_in_page)
        self.visits: list[Visit] = []  # what approve() saw
        self.browser_errors: list[Exception] = []  # what approve_in_background() hit
        self._browsers: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"FakeIssuer({self.url or 'not running'})"

    # -- the failures older tests set one by one -----------------------------------

    @property
    def code_failure(self) -> Failure | None:
        return self.failures.get("code")

    @code_failure.setter
    def code_failure(self, failure: Failure | None) -> None:
        self._set_failure("code", failure)

    @property
    def api_key_failure(self) -> Failure | None:
        return self.failures.get("api_key")

    @api_key_failure.setter
    def api_key_failure(self, failure: Failure | None) -> None:
        self._set_failure("api_key", failure)

    @property
    def refresh_failure(self) -> Failure | None:
        return self.failures.get("refresh")

    @refresh_failure.setter
    def refresh_failure(self, failure: Failure | None) -> None:
        self._set_failure("refresh", failure)

    def _set_failure(self, endpoint: str, failure: Failure | None) -> None:
        if failure is None:
            self.failures.pop(endpoint, None)
        else:
            self.failures[endpoint] = failure

    # -- the browser and the user ---------------------------------------------------------

    def approve(self, authorize_url: str, *, timeout: float = 30.0) -> Visit:
        """Do what a browser does with an authorization URL, for a user who approves.

        GET the URL at this issuer, which redirects to the client's callback with
        a code, and follow every redirect from there (to the client's success page).
        With ``sign_in_page``, the GET shows the sign-in page: submit its form, as the
        user's click would, and follow the redirects from there.
        Returns where it ended up; an HTTP error page is returned too, not raised.
        Blocks: from inside the event loop that runs the callback server (an
        ``announce`` callback), use ``approve_in_background``.
        """
        visit = browser.approve(authorize_url, sign_in_page=self.sign_in_page, timeout=timeout)
        self.visits.append(visit)
        return visit

    def approve_in_background(self, authorize_url: str, port: int | None = None) -> None:
        """``approve(authorize_url)`` in a thread of its own; returns at once.

        Its signature fits ``login_in_browser(announce=...)`` (``port`` is ignored).
        The visit is appended to ``visits``, an exception to ``browser_errors``;
        ``join_browsers()`` waits for them.
        """
        browse = browser.in_background(lambda: self.approve(authorize_url), self.browser_errors)
        self._browsers.append(browse)

    def join_browsers(self, timeout: float = 30.0) -> None:
        """Wait until every ``approve_in_background`` browser has finished its visit."""
        for browse in self._browsers:
            browse.join(timeout)
            if browse.is_alive():
                raise TimeoutError(f"a browser was still busy after {timeout:g} s")

    # -- the HTTP application -------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application; ``running_issuer`` serves it."""
        return issuer_app(self)
