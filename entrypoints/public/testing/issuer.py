"""A fake OAuth issuer: a real HTTP server on 127.0.0.1 (any free port), for tests.

It speaks both dialects codex-login knows, at once:

- the OpenAI issuer's (profile ``openai``): ``/oauth/authorize``, ``/oauth/token``
  taking JSON (refresh) or forms, ``/oauth/revoke``, and the device login at
  ``/api/accounts/deviceauth/usercode`` and ``/api/accounts/deviceauth/token``;
- a standard OAuth server's (profile ``standard``, what codex-login uses for any
  issuer but auth.openai.com): the same endpoints found through
  ``/.well-known/openid-configuration``, plus RFC 8628's ``/oauth/device/code``.

Like a real issuer it checks PKCE (S256) and the redirect URI on the code
exchange, hands out single-use codes and single-use refresh tokens (reusing a
spent refresh token revokes the whole grant, as oidc-provider and the OpenAI
issuer do), exchanges an ID token for an API key, and revokes (RFC 7009).
``GET /oauth/authorize`` plays a user who approves at once: it redirects to the
client's callback with a code. ``approve(url)`` plays the browser that follows it.
With ``sign_in_page=True`` it shows a person a one-click page instead ("Sign in as
user@example.com", a form that posts back to ``/oauth/authorize``), and only that
click redirects; ``approve(url)`` then submits the form as a browser would.

Tests script it through attributes (``failures``, ``gates``, ``plan``...) and read
``requests``, the record of every request received::

    from codex_login import CodexAuth
    from codex_login.stores import MemoryCredentialStore
    from codex_login.testing.issuer import FakeIssuer, running_issuer

    # The fake stands in for OpenAI's issuer; any issuer but auth.openai.com needs
    # its client id named (a mix-up defence), here OpenAI's.
    with running_issuer(FakeIssuer()) as issuer:
        store = MemoryCredentialStore()
        client = "app_EMoamEEZ73f0CkXaXp7hrann"
        with CodexAuth(store=store, issuer=issuer.url, client_id=client, environ={}) as auth:
            auth.login_in_browser(
                announce=issuer.approve_in_background, open_browser=False, port=0
            )
            assert auth.get_token() == store.saved[-1].tokens.access_token
        assert len(issuer.posts("authorization_code")) == 1
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import itertools
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import attrs
from aiohttp import web

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.login import login_record as record_of_login
from codex_login.domain.login import tokens_from_grant
from codex_login.domain.tokens import Provenance, TokenGrant
from codex_login.testing.tokens import access_token, id_token

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock
    from codex_login.domain.record import CredentialRecord

__all__ = [
    "ENDPOINTS",
    "Device",
    "Failure",
    "FakeIssuer",
    "Recorded",
    "Visit",
    "running_issuer",
]

# The names ``failures`` and ``gates`` take: one per thing the issuer answers.
ENDPOINTS = (
    "authorize",  # GET /oauth/authorize (the sign-in page's click is not gated)
    "code",  # the authorization_code grant at /oauth/token
    "api_key",  # the token-exchange grant (ID token for an API key)
    "refresh",  # the refresh_token grant
    "device_code",  # asking for a user code, either dialect
    "device_token",  # polling for the device login's answer, either dialect
    "revoke",  # POST /oauth/revoke
    "metadata",  # GET /.well-known/openid-configuration
)
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105  (a grant type)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_GRANT_ENDPOINTS = {
    "authorization_code": "code",
    TOKEN_EXCHANGE: "api_key",
    "refresh_token": "refresh",
    DEVICE_CODE_GRANT: "device_token",
}


@attrs.define
class Recorded:
    """One request the issuer received: its body as a form or as JSON, whichever came."""

    method: str
    path: str
    form: dict[str, str]
    json: Any
    content_type: str
    query: dict[str, str] = attrs.Factory(dict)
    headers: dict[str, str] = attrs.Factory(dict)
    # The client's (host, port): requests over one kept-alive connection share it.
    peer: tuple[str, int] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        """The body's fields: the JSON object if one was sent, else the form."""
        return self.json if isinstance(self.json, dict) else self.form

    @property
    def grant_type(self) -> str | None:
        value = self.fields.get("grant_type")
        return value if isinstance(value, str) else None


@attrs.define
class Failure:
    """How an endpoint misbehaves: this status, body and headers after ``delay`` seconds.

    A delay longer than the client's timeout (with any status) makes the issuer
    unresponsive. ``times`` is how many requests fail before the endpoint works
    again (it counts down, and the failure is then removed); None means all.
    """

    status: int = 500
    body: str = '{"error": "server_error"}'
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = attrs.Factory(dict)
    times: int | None = None


@attrs.define
class Device:
    """One device login: ``state`` is pending, approved, denied, expired or used."""

    device_code: str
    user_code: str
    state: str = "pending"


@attrs.frozen
class Visit:
    """Where a browser ended up after following every redirect, and what it showed."""

    status: int
    url: str
    body: str


@attrs.define
class _Grant:
    """One login's chain of refresh tokens; only the last one works."""

    refresh_tokens: list[str]
    revoked: bool = False


class FakeIssuer:
    """An OAuth issuer to run with ``running_issuer``; ``url`` is set once it listens.

    What it hands out (change before or between requests):

    - ``plan``: the ChatGPT plan in new ID tokens; ``claims``: more keywords for
      ``codex_login.testing.tokens.id_token`` (``email``, ``account_id``,
      ``organization_id``...);
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
      times first, RFC 8628).

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
        self.url = ""
        self.plan = plan
        self.sign_in_page = sign_in_page
        self.claims: dict[str, Any] = {}
        self.access_ttl = access_ttl
        self.clock = clock
        self.api_key = "sk-proj-exchanged-0123456789"
        self.authorize_error: str | None = None
        self.sends_iss = True
        self.metadata: dict[str, Any] = {}
        self.device_interval = 0.05
        self.approve_devices = False  # True: every device code is approved as it is issued
        self.device_slow_downs = 0
        self.failures: dict[str, Failure] = {}
        self.gates: dict[str, threading.Event] = {}
        self.gate_timeout = 60.0
        self.exchange_delay = 0.0
        self.requests: list[Recorded] = []
        self.devices: dict[str, Device] = {}  # by user code
        self.visits: list[Visit] = []  # what approve() saw
        self.browser_errors: list[Exception] = []  # what approve_in_background() hit
        self._browsers: list[threading.Thread] = []
        self._codes: dict[str, dict[str, str | None]] = {}
        self._grants: dict[str, _Grant] = {}  # every refresh token ever issued -> its grant
        self._serials = itertools.count(1)
        self._lock = threading.Lock()

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

    # -- what tests look at ----------------------------------------------------------

    def posts(self, grant_type: str) -> list[Recorded]:
        """The token requests with this ``grant_type`` (``"refresh_token"``...)."""
        return [r for r in self.requests if r.grant_type == grant_type]

    def requests_to(self, path: str) -> list[Recorded]:
        """The requests to ``path`` (``"/oauth/revoke"``...)."""
        return [r for r in self.requests if r.path == path]

    def refresh_token_works(self, token: str) -> bool:
        """Whether a refresh with ``token`` would succeed now (it is its grant's newest)."""
        with self._lock:
            grant = self._grants.get(token)
            return grant is not None and not grant.revoked and grant.refresh_tokens[-1] == token

    # -- logins without a browser --------------------------------------------------------

    def new_refresh_token(self) -> str:
        """The refresh token of a new grant, as if a login had just happened."""
        token = f"rt-{next(self._serials)}"
        with self._lock:
            self._grants[token] = _Grant([token])
        return token

    def issue_tokens(self, refresh_token: str, *, now: datetime | None = None) -> dict[str, str]:
        """The ID, access and refresh tokens this issuer answers with, for ``refresh_token``.

        The ID token names this issuer (``iss``) and carries ``plan`` and ``claims``;
        the access token is issued ``now`` (default: the issuer's clock) and expires
        ``access_ttl`` later.
        """
        now = now or self._now()
        return {
            "id_token": id_token(plan=self.plan, issuer=self.url or None, **self.claims),
            "access_token": access_token(
                now + self.access_ttl, issued_at=now, jti=f"at-{next(self._serials)}"
            ),
            "refresh_token": refresh_token,
        }

    def login_record(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        api_key: str | None = None,
        age: timedelta = timedelta(0),
    ) -> CredentialRecord:
        """The record a ChatGPT login at this issuer stores, for a new grant.

        The tokens are the ones a code exchange hands out (``issue_tokens`` of
        ``new_refresh_token()``, so refreshing and revoking them work), made into
        a record by the same code a real login uses, with ``tokens.oauth_provenance``
        naming this issuer and ``client_id``. Save it in a store to start a test
        logged in without a browser. ``age`` dates the login that long ago (its
        ``last_refresh`` and the access token's ``iat``): a forced refresh of tokens
        issued seconds ago answers them without asking the issuer.
        """
        if not self.url:
            raise RuntimeError("the issuer is not running: use running_issuer() first")
        issued = self._now() - age
        grant = TokenGrant(**self.issue_tokens(self.new_refresh_token(), now=issued))
        tokens = attrs.evolve(tokens_from_grant(grant), provenance=Provenance(self.url, client_id))
        return record_of_login(tokens, api_key, issued, None)

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
        if urlsplit(authorize_url).scheme not in ("http", "https"):
            raise ValueError(f"not a web URL: {authorize_url!r}")
        visit = _visit(authorize_url, timeout=timeout)
        form = _sign_in_form(visit) if self.sign_in_page else None
        if form is not None:
            action, fields = form
            visit = _visit(urljoin(visit.url, action), fields, timeout=timeout)
        self.visits.append(visit)
        return visit

    def approve_in_background(self, authorize_url: str, port: int | None = None) -> None:
        """``approve(authorize_url)`` in a thread of its own; returns at once.

        Its signature fits ``login_in_browser(announce=...)`` (``port`` is ignored).
        The visit is appended to ``visits``, an exception to ``browser_errors``;
        ``join_browsers()`` waits for them.
        """

        def browse() -> None:
            try:
                self.approve(authorize_url)
            except Exception as exc:  # nobody joins this thread: keep it for the test
                self.browser_errors.append(exc)

        browser = threading.Thread(target=browse, name="fake-issuer-browser", daemon=True)
        self._browsers.append(browser)
        browser.start()

    def join_browsers(self, timeout: float = 30.0) -> None:
        """Wait until every ``approve_in_background`` browser has finished its visit."""
        for browser in self._browsers:
            browser.join(timeout)
            if browser.is_alive():
                raise TimeoutError(f"a browser was still busy after {timeout:g} s")

    def approve_device(self, user_code: str) -> None:
        """The user enters ``user_code`` on another device and approves."""
        self.devices[user_code].state = "approved"

    def deny_device(self, user_code: str) -> None:
        """The user enters ``user_code`` and declines."""
        self.devices[user_code].state = "denied"

    def expire_device(self, user_code: str) -> None:
        """The device code's time runs out before anyone approves it."""
        self.devices[user_code].state = "expired"

    # -- the HTTP application -------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application; ``running_issuer`` serves it."""
        app = web.Application()
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/oauth/authorize", self._sign_in)  # the sign-in page's click
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/revoke", self._revoke)
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_post("/oauth/device/code", self._device_code)
        app.router.add_post("/api/accounts/deviceauth/usercode", self._openai_usercode)
        app.router.add_post("/api/accounts/deviceauth/token", self._openai_device_token)
        app.router.add_post("/elsewhere", self._record_only)  # where a redirect would lead
        return app

    async def _record(self, request: web.Request) -> Recorded:
        body = await request.text()
        form: dict[str, str] = {}
        document: Any = None
        if request.content_type == "application/json":
            try:
                document = json.loads(body)
            except ValueError:
                document = body
        else:
            form = dict(parse_qsl(body))
        recorded = Recorded(
            request.method,
            request.path,
            form,
            document,
            request.content_type if body else "",
            query=dict(request.query),
            headers=dict(request.headers),
            peer=_peer(request),
        )
        self.requests.append(recorded)
        return recorded

    async def _interfere(self, endpoint: str) -> web.Response | None:
        """Hold at the endpoint's gate, then answer with its scripted failure, if any."""
        gate = self.gates.get(endpoint)
        if gate is not None:
            await asyncio.to_thread(gate.wait, self.gate_timeout)
        with self._lock:
            failure = self.failures.get(endpoint)
            if failure is not None and failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self.failures[endpoint]
        if failure is None:
            return None
        await asyncio.sleep(failure.delay)
        return web.Response(
            status=failure.status,
            text=failure.body,
            content_type=failure.content_type,
            headers=failure.headers,
        )

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        interfered = await self._interfere("authorize")
        if interfered is not None:
            return interfered
        if self.sign_in_page:
            return self._sign_in_page(request.query)
        return self._answer_authorization(request.query, web.HTTPFound)

    async def _sign_in(self, request: web.Request) -> web.StreamResponse:
        """The sign-in page's button: the request it showed, approved by the user."""
        if not self.sign_in_page:  # as before there was a page: GET only
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        recorded = await self._record(request)
        # 303: the browser follows a POST's redirect with a GET, as the callback expects.
        return self._answer_authorization(recorded.form, web.HTTPSeeOther)

    def _sign_in_page(self, query: Mapping[str, str]) -> web.Response:
        """One button that posts the authorization request back, as approved."""
        email = self.claims.get("email", "user@example.com")
        label = f"Sign in as {email}" if email else "Sign in"
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in query.items()
        )
        page = _SIGN_IN_PAGE.format(
            issuer=html.escape(self.url), fields=hidden, label=html.escape(label)
        )
        return web.Response(
            text=page, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    def _answer_authorization(
        self, query: Mapping[str, str], redirect: type[web.HTTPFound | web.HTTPSeeOther]
    ) -> web.StreamResponse:
        """Send the browser back to the client's callback with a code (or the error)."""
        redirect_uri = query.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _error(400, "invalid_request", "redirect_uri is missing or not a URL")
        answer = {"state": query["state"]} if "state" in query else {}
        if self.authorize_error is not None:
            answer |= {"error": self.authorize_error, "error_description": "the user declined"}
        elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            answer |= {"error": "invalid_request", "error_description": "PKCE S256 is required"}
        else:
            code = f"code-{next(self._serials)}"
            with self._lock:
                self._codes[code] = {
                    "challenge": query["code_challenge"],
                    "redirect_uri": redirect_uri,
                    "client_id": query.get("client_id"),
                }
            answer["code"] = code
        if self.sends_iss:
            answer["iss"] = self.url  # RFC 9207
        separator = "&" if urlsplit(redirect_uri).query else "?"
        raise redirect(f"{redirect_uri}{separator}{urlencode(answer)}")

    async def _token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        fields = recorded.fields
        endpoint = _GRANT_ENDPOINTS.get(recorded.grant_type or "")
        if endpoint is None:
            return _error(400, "unsupported_grant_type", "")
        interfered = await self._interfere(endpoint)
        if interfered is not None:
            return interfered
        if endpoint == "code":
            return await self._exchange_code(fields)
        if endpoint == "api_key":
            return web.json_response(
                {"access_token": self.api_key, "issued_token_type": "openai-api-key"}
            )
        if endpoint == "refresh":
            return self._refresh(str(fields.get("refresh_token", "")))
        return self._device_grant(str(fields.get("device_code", "")))

    async def _exchange_code(self, fields: dict[str, Any]) -> web.Response:
        await asyncio.sleep(self.exchange_delay)  # lets tests overlap two callbacks
        with self._lock:
            pending = self._codes.pop(str(fields.get("code", "")), None)  # single use
        if pending is None or pending["redirect_uri"] != fields.get("redirect_uri"):
            return _error(400, "invalid_grant", "unknown code or redirect_uri")
        client = pending["client_id"]
        if client is not None and client != fields.get("client_id"):
            return _error(400, "invalid_grant", "the code was issued to another client")
        if _s256(str(fields.get("code_verifier", ""))) != pending["challenge"]:
            return _error(400, "invalid_grant", "code_verifier does not match")
        return self._token_answer(self.new_refresh_token())

    def _refresh(self, token: str) -> web.Response:
        with self._lock:
            grant = self._grants.get(token)
            if grant is None or grant.revoked:
                return _error(401, "refresh_token_invalidated", "unknown or revoked")
            if grant.refresh_tokens[-1] != token:
                grant.revoked = True  # reuse: the whole grant dies
                return _error(401, "refresh_token_reused", "already used")
            new = f"rt-{next(self._serials)}"
            grant.refresh_tokens.append(new)
            self._grants[new] = grant
        return self._token_answer(new)

    def _token_answer(self, refresh_token: str) -> web.Response:
        answer: dict[str, Any] = {
            **self.issue_tokens(refresh_token),
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl.total_seconds()),
        }
        return web.json_response(answer)

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        interfered = await self._interfere("revoke")
        if interfered is not None:
            return interfered
        with self._lock:
            grant = self._grants.get(str(recorded.fields.get("token", "")))
            if grant is not None:
                grant.revoked = True
        return web.json_response({})  # RFC 7009: unknown tokens are "revoked" too

    async def _record_only(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({})

    async def _metadata(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        interfered = await self._interfere("metadata")
        if interfered is not None:
            return interfered
        document = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth/authorize",
            "token_endpoint": f"{self.url}/oauth/token",
            "revocation_endpoint": f"{self.url}/oauth/revoke",
            "device_authorization_endpoint": f"{self.url}/oauth/device/code",
            "response_types_supported": ["code"],
            "grant_types_supported": [*_GRANT_ENDPOINTS],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            **self.metadata,
        }
        return web.json_response({k: v for k, v in document.items() if v is not None})

    # -- device login: RFC 8628 and the OpenAI issuer's own endpoints ------------------------

    def _new_device(self) -> Device:
        serial = next(self._serials)
        device = Device(device_code=f"dc-{serial}", user_code=f"CODE-{serial}")
        if self.approve_devices:
            device.state = "approved"
        self.devices[device.user_code] = device
        return device

    async def _device_code(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        interfered = await self._interfere("device_code")
        if interfered is not None:
            return interfered
        device = self._new_device()
        page = f"{self.url}/device"
        return web.json_response(
            {
                "device_code": device.device_code,
                "user_code": device.user_code,
                "verification_uri": page,
                "verification_uri_complete": f"{page}?{urlencode({'user_code': device.user_code})}",
                "expires_in": 600,
                "interval": self.device_interval,
            }
        )

    def _device_grant(self, device_code: str) -> web.Response:
        device = next((d for d in self.devices.values() if d.device_code == device_code), None)
        if device is None:
            return _error(400, "invalid_grant", "unknown device code")
        if self.device_slow_downs > 0:
            self.device_slow_downs -= 1
            return _error(400, "slow_down")
        if device.state != "approved":
            errors = {"denied": "access_denied", "expired": "expired_token"}
            return _error(400, errors.get(device.state, "authorization_pending"))
        device.state = "used"
        return self._token_answer(self.new_refresh_token())

    async def _openai_usercode(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        interfered = await self._interfere("device_code")
        if interfered is not None:
            return interfered
        device = self._new_device()
        return web.json_response(
            {
                "device_auth_id": device.device_code,
                "user_code": device.user_code,
                "interval": str(self.device_interval),  # the OpenAI issuer sends a string
            }
        )

    async def _openai_device_token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        interfered = await self._interfere("device_token")
        if interfered is not None:
            return interfered
        fields = recorded.fields
        device = self.devices.get(str(fields.get("user_code", "")))
        if device is None or device.device_code != fields.get("device_auth_id"):
            return _error(404, "not_found")
        if device.state != "approved":
            return _error(403, "deviceauth_authorization_pending")
        device.state = "used"
        # The OpenAI issuer hands the client a code and its verifier to exchange.
        verifier = f"verifier-{device.device_code}"
        code = f"code-{next(self._serials)}"
        with self._lock:
            self._codes[code] = {
                "challenge": _s256(verifier),
                "redirect_uri": f"{self.url}/deviceauth/callback",
                "client_id": None,
            }
        return web.json_response(
            {
                "authorization_code": code,
                "code_challenge": _s256(verifier),
                "code_verifier": verifier,
            }
        )

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)


_SIGN_IN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - codex-login test issuer</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
<h1>codex-login test issuer</h1>
<p>A fake OAuth issuer at {issuer}, running on this machine. No password: one click
signs you in and sends you back to the application that asked.</p>
<form method="post" action="/oauth/authorize">{fields}
<button type="submit" style="font-size: 1.2em">{label}</button>
</form>
</body>
</html>
"""


class _FormReader(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = attributes.get("action", ""), True
        elif tag == "input" and self._in_form and "name" in attributes:
            self.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _sign_in_form(visit: Visit) -> tuple[str, dict[str, str]] | None:
    """The sign-in page's form, when the visit ended on it (else None)."""
    if visit.status != 200 or urlsplit(visit.url).path != "/oauth/authorize":
        return None
    reader = _FormReader()
    reader.feed(visit.body)
    return None if reader.action is None else (reader.action, reader.fields)


def _visit(url: str, form: dict[str, str] | None = None, *, timeout: float) -> Visit:
    """GET ``url`` (or POST ``form`` to it) and follow every redirect, as a browser does."""
    # Loopback addresses only: never through a proxy from the environment.
    browser = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = None if form is None else urlencode(form).encode()
    try:
        with browser.open(url, data, timeout=timeout) as page:  # the caller checked the scheme
            return Visit(page.status, page.url, page.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Visit(exc.code, exc.url, exc.read().decode("utf-8", "replace"))


def _peer(request: web.Request) -> tuple[str, int] | None:
    peername = request.transport.get_extra_info("peername") if request.transport else None
    return (str(peername[0]), int(peername[1])) if peername else None


def _error(status: int, code: str, description: str = "") -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@contextmanager
def running_issuer(
    issuer: FakeIssuer, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeIssuer]:
    """Serve ``issuer`` on 127.0.0.1 from a background thread until the block ends.

    No pytest needed: ``with running_issuer(FakeIssuer()) as issuer: ...``. With
    ``tls`` (a server ``SSLContext``) it serves HTTPS, and ``issuer.url`` says so.
    """
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(issuer.app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        issuer.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    thread = threading.Thread(target=loop.run_forever, name="fake-issuer", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield issuer
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
