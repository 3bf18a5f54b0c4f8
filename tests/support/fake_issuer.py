"""An in-process OAuth issuer on 127.0.0.1, port 0, for fast tests.

``GET /oauth/authorize`` plays the user who approves at once: it issues a code
bound to the PKCE challenge and redirects to the client's callback. The token
endpoint handles the code exchange, the API-key exchange and refreshes with
single-use refresh tokens whose reuse revokes the whole grant, as the real
issuer does. Behaviour is switched per test through ``FakeIssuer`` attributes;
every request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs
from aiohttp import web

from support.tokens import access_token, id_token


@attrs.define
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    json: Any
    content_type: str


@attrs.define
class Failure:
    """Make an endpoint misbehave: a status and body, or a delay longer than the timeout."""

    status: int = 500
    body: str = '{"error": "server_error"}'
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = attrs.Factory(dict)


@attrs.define
class Grant:
    refresh_tokens: list[str]
    revoked: bool = False


class FakeIssuer:
    def __init__(self, *, plan: str = "pro", access_ttl: timedelta = timedelta(hours=1)) -> None:
        self.plan = plan
        self.claims: dict[str, Any] = {}
        self.access_ttl = access_ttl
        self.requests: list[Recorded] = []
        self.code_failure: Failure | None = None
        self.api_key_failure: Failure | None = None
        self.refresh_failure: Failure | None = None
        self.exchange_delay = 0.0
        self.device_interval = 0.05
        self.device_slow_downs = 0  # answer slow_down this many times first (RFC 8628)
        self.devices: dict[str, dict[str, str]] = {}  # user code -> device state
        self.url = ""
        self.metadata: dict[str, Any] = {}  # merged over the discovery document; None removes
        self.gates: dict[str, threading.Event] = {}  # "refresh", "revoke": held until set
        self._codes: dict[str, dict[str, str]] = {}
        self._grants: dict[str, Grant] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    # -- what tests look at ------------------------------------------------------

    def posts(self, grant_type: str) -> list[Recorded]:
        return [r for r in self.requests if _grant_type(r) == grant_type]

    def new_refresh_token(self) -> str:
        """A fresh grant's refresh token, as if a login had just happened."""
        token = f"rt-{next(self._counter)}"
        self._grants[token] = Grant([token])
        return token

    def approve_device(self, user_code: str) -> None:
        self.devices[user_code]["state"] = "approved"

    def deny_device(self, user_code: str) -> None:
        self.devices[user_code]["state"] = "denied"

    def refresh_token_works(self, token: str) -> bool:
        grant = self._grant_of(token)
        return grant is not None and not grant.revoked and grant.refresh_tokens[-1] == token

    # -- the app -------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/revoke", self._revoke)
        app.router.add_post("/elsewhere", self._record_only)  # where a redirect would lead
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_post("/oauth/device/code", self._device_code)
        app.router.add_post("/api/accounts/deviceauth/usercode", self._openai_usercode)
        app.router.add_post("/api/accounts/deviceauth/token", self._openai_device_token)
        return app

    async def _record(self, request: web.Request) -> Recorded:
        body = await request.text()
        form: dict[str, str] = {}
        document: Any = None
        if request.content_type == "application/json":
            document = json.loads(body)
        else:
            form = dict(parse_qsl(body))
        recorded = Recorded(request.method, request.path, form, document, request.content_type)
        self.requests.append(recorded)
        return recorded

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        code = f"code-{next(self._counter)}"
        self._codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
        }
        target = urlencode({"code": code, "state": query["state"], "iss": self.url})
        raise web.HTTPFound(f"{query['redirect_uri']}?{target}")

    async def _token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        fields = recorded.json if recorded.json is not None else recorded.form
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            return await self._exchange_code(fields)
        if grant_type == "urn:ietf:params:oauth:grant-type:token-exchange":
            return await self._fail(self.api_key_failure) or web.json_response(
                {"access_token": "sk-proj-exchanged-0123456789"}
            )
        if grant_type == "refresh_token":
            await self._pass_gate("refresh")
            return await self._fail(self.refresh_failure) or self._refresh(fields)
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_grant(fields.get("device_code", ""))
        return _error(400, "unsupported_grant_type")

    async def _exchange_code(self, fields: dict[str, str]) -> web.StreamResponse:
        failed = await self._fail(self.code_failure)
        if failed:
            return failed
        await asyncio.sleep(self.exchange_delay)  # lets tests overlap two callbacks
        pending = self._codes.pop(fields.get("code", ""), None)
        if pending is None or pending["redirect_uri"] != fields.get("redirect_uri"):
            return _error(400, "invalid_grant", "unknown code or redirect_uri")
        if _s256(fields.get("code_verifier", "")) != pending["challenge"]:
            return _error(400, "invalid_grant", "code_verifier does not match")
        return web.json_response(self._tokens(self.new_refresh_token()))

    def _refresh(self, fields: dict[str, str]) -> web.Response:
        with self._lock:
            token = fields.get("refresh_token", "")
            grant = self._grant_of(token)
            if grant is None or grant.revoked:
                return _error(401, "refresh_token_invalidated", "unknown or revoked")
            if grant.refresh_tokens[-1] != token:
                grant.revoked = True  # reuse: the whole grant dies
                return _error(401, "refresh_token_reused", "already used")
            new = f"rt-{next(self._counter)}"
            grant.refresh_tokens.append(new)
            self._grants[new] = grant
            return web.json_response(self._tokens(new))

    async def _record_only(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({})

    async def _pass_gate(self, name: str) -> None:
        """Hold the answer until the test opens the gate named ``name`` (if it set one)."""
        gate = self.gates.get(name)
        if gate is not None:
            await asyncio.to_thread(gate.wait, 60)

    async def _revoke(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        await self._pass_gate("revoke")
        fields = recorded.json if recorded.json is not None else recorded.form
        grant = self._grant_of(fields.get("token", ""))
        if grant is not None:
            grant.revoked = True
        return web.json_response({})

    # -- device code: RFC 8628 (standard profile) and the OpenAI issuer's endpoints --

    def _new_device(self) -> dict[str, str]:
        serial = next(self._counter)
        device = {"device_code": f"dc-{serial}", "user_code": f"CODE-{serial}", "state": "pending"}
        self.devices[device["user_code"]] = device
        return device

    async def _metadata(self, request: web.Request) -> web.Response:
        self.requests.append(Recorded("GET", request.path, {}, None, ""))
        document = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth/authorize",
            "token_endpoint": f"{self.url}/oauth/token",
            "revocation_endpoint": f"{self.url}/oauth/revoke",
            "device_authorization_endpoint": f"{self.url}/oauth/device/code",
            **self.metadata,
        }
        return web.json_response({k: v for k, v in document.items() if v is not None})

    async def _device_code(self, request: web.Request) -> web.Response:
        await self._record(request)
        device = self._new_device()
        return web.json_response(
            {
                "device_code": device["device_code"],
                "user_code": device["user_code"],
                "verification_uri": f"{self.url}/device",
                "verification_uri_complete": f"{self.url}/device?user_code={device['user_code']}",
                "expires_in": 600,
                "interval": self.device_interval,
            }
        )

    def _device_grant(self, device_code: str) -> web.Response:
        device = next((d for d in self.devices.values() if d["device_code"] == device_code), None)
        if device is None:
            return _error(400, "invalid_grant", "unknown device code")
        if self.device_slow_downs > 0:
            self.device_slow_downs -= 1
            return _error(400, "slow_down")
        state = device["state"]
        if state != "approved":
            return _error(400, "access_denied" if state == "denied" else "authorization_pending")
        device["state"] = "used"
        return web.json_response(self._tokens(self.new_refresh_token()))

    async def _openai_usercode(self, request: web.Request) -> web.Response:
        await self._record(request)
        device = self._new_device()
        return web.json_response(
            {
                "device_auth_id": device["device_code"],
                "user_code": device["user_code"],
                "interval": str(self.device_interval),  # the OpenAI issuer sends a string
            }
        )

    async def _openai_device_token(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        device = self.devices.get(recorded.json.get("user_code", ""))
        if device is None or device["device_code"] != recorded.json.get("device_auth_id"):
            return _error(404, "not_found")
        if device["state"] != "approved":
            return _error(403, "deviceauth_authorization_pending")
        device["state"] = "used"
        verifier = f"verifier-{device['device_code']}"
        code = f"code-{next(self._counter)}"
        self._codes[code] = {
            "challenge": _s256(verifier),
            "redirect_uri": f"{self.url}/deviceauth/callback",
        }
        return web.json_response(
            {
                "authorization_code": code,
                "code_challenge": _s256(verifier),
                "code_verifier": verifier,
            }
        )

    def _tokens(self, refresh: str) -> dict[str, str]:
        expires = datetime.now(UTC) + self.access_ttl
        return {
            "id_token": id_token(plan=self.plan, issuer=self.url, **self.claims),
            "access_token": access_token(expires),
            "refresh_token": refresh,
        }

    def _grant_of(self, token: str) -> Grant | None:
        return self._grants.get(token)

    @staticmethod
    async def _fail(failure: Failure | None) -> web.Response | None:
        if failure is None:
            return None
        await asyncio.sleep(failure.delay)
        return web.Response(
            status=failure.status,
            text=failure.body,
            content_type=failure.content_type,
            headers=failure.headers,
        )


def _grant_type(recorded: Recorded) -> str | None:
    fields = recorded.json if recorded.json is not None else recorded.form
    value = fields.get("grant_type") if isinstance(fields, dict) else None
    return value if isinstance(value, str) else None


def _error(status: int, code: str, description: str = "") -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@contextmanager
def running_issuer(
    issuer: FakeIssuer, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeIssuer]:
    """Serve ``issuer`` from a background thread's event loop (HTTPS when given ``tls``)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(issuer.app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        issuer.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield issuer
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
