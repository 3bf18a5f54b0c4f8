"""The fake issuer's HTTP side: aiohttp routes that record each request, apply the
scripted gates and failures, and send what the state decided."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from codex_login.domain.access_tokens import WHOAMI_PATH
from codex_login.testing.issuer.state import AUTHAPI_PATH, IssuerState
from codex_login.testing.issuer.values import GRANT_ENDPOINTS, Recorded, Reply, error

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


def issuer_app(
    state: IssuerState, routes_for: Callable[[IssuerState], IssuerRoutes] | None = None
) -> web.Application:
    """The aiohttp application serving ``state`` through ``routes_for(state)``: a test
    that needs a misbehaving issuer passes a subclass of ``IssuerRoutes``."""
    routes = (routes_for or IssuerRoutes)(state)
    app = web.Application()
    app.router.add_get("/oauth/authorize", routes.authorize)
    app.router.add_post("/oauth/authorize", routes.sign_in)  # the sign-in page's click
    app.router.add_post("/oauth/token", routes.token)
    app.router.add_post("/oauth/revoke", routes.revoke)
    app.router.add_get("/.well-known/openid-configuration", routes.metadata)
    app.router.add_post("/oauth/device/code", routes.device_code)
    app.router.add_post("/api/accounts/deviceauth/usercode", routes.openai_usercode)
    app.router.add_post("/api/accounts/deviceauth/token", routes.openai_device_token)
    app.router.add_get(AUTHAPI_PATH + WHOAMI_PATH, routes.whoami)
    app.router.add_post("/elsewhere", routes.record_only)  # where a redirect would lead
    return app


def _send(reply: Reply) -> web.Response:
    return web.json_response(reply.document, status=reply.status)


class IssuerRoutes:
    """One handler per route; ``record`` keeps the request in ``state.requests``."""

    def __init__(self, state: IssuerState) -> None:
        self._state = state

    async def record(self, request: web.Request) -> Recorded:
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
        self._state.requests.append(recorded)
        return recorded

    async def _interfere(self, endpoint: str) -> web.Response | None:
        """Hold at the endpoint's gate, then answer with its scripted failure, if any."""
        gate = self._state.gates.get(endpoint)
        if gate is not None:
            await asyncio.to_thread(gate.wait, self._state.gate_timeout)
        failure = self._state.take_failure(endpoint)
        if failure is None:
            return None
        await asyncio.sleep(failure.delay)
        return web.Response(
            status=failure.status,
            text=failure.body,
            content_type=failure.content_type,
            headers=failure.headers,
        )

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        interfered = await self._interfere("authorize")
        if interfered is not None:
            return interfered
        if self._state.sign_in_page:
            return self._sign_in_page(request.query)
        return self._answer_authorization(request.query, web.HTTPFound)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        """The sign-in page's button: the request it showed, approved by the user."""
        if not self._state.sign_in_page:  # as before there was a page: GET only
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        recorded = await self.record(request)
        # 303: the browser follows a POST's redirect with a GET, as the callback expects.
        return self._answer_authorization(recorded.form, web.HTTPSeeOther)

    def _sign_in_page(self, query: Mapping[str, str]) -> web.Response:
        """One button that posts the authorization request back, as approved."""
        email = self._state.claims.get("email", "user@example.com")
        label = f"Sign in as {email}" if email else "Sign in"
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in query.items()
        )
        page = _SIGN_IN_PAGE.format(
            issuer=html.escape(self._state.url), fields=hidden, label=html.escape(label)
        )
        return web.Response(
            text=page, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    def _answer_authorization(
        self, query: Mapping[str, str], redirect: type[web.HTTPFound | web.HTTPSeeOther]
    ) -> web.StreamResponse:
        """Send the browser back to the client's callback with a code (or the error)."""
        answer = self._state.authorization(query)
        if isinstance(answer, Reply):
            return _send(answer)
        raise redirect(answer)

    async def token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        endpoint = GRANT_ENDPOINTS.get(recorded.grant_type or "")
        if endpoint is None:
            return _send(error(400, "unsupported_grant_type", ""))
        interfered = await self._interfere(endpoint)
        if interfered is not None:
            return interfered
        if endpoint == "code":
            await asyncio.sleep(self._state.exchange_delay)  # lets tests overlap two callbacks
        return _send(self._state.grant(endpoint, recorded.fields))

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        interfered = await self._interfere("revoke")
        if interfered is not None:
            return interfered
        return _send(self._state.revoke(str(recorded.fields.get("token", ""))))

    async def whoami(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        interfered = await self._interfere("whoami")
        if interfered is not None:
            return interfered
        return _send(self._state.whoami(request.headers.get("Authorization", "")))

    async def record_only(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.json_response({})

    async def metadata(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        interfered = await self._interfere("metadata")
        if interfered is not None:
            return interfered
        return web.json_response(self._state.metadata_document())

    async def device_code(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        interfered = await self._interfere("device_code")
        if interfered is not None:
            return interfered
        device = self._state.new_device()
        page = f"{self._state.url}/device"
        return web.json_response(
            {
                "device_code": device.device_code,
                "user_code": device.user_code,
                "verification_uri": page,
                "verification_uri_complete": f"{page}?{urlencode({'user_code': device.user_code})}",
                "expires_in": 600,
                "interval": self._state.device_interval,
            }
        )

    async def openai_usercode(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        interfered = await self._interfere("device_code")
        if interfered is not None:
            return interfered
        device = self._state.new_device()
        return web.json_response(
            {
                "device_auth_id": device.device_code,
                "user_code": device.user_code,
                "interval": str(self._state.device_interval),  # the OpenAI issuer sends a string
            }
        )

    async def openai_device_token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        interfered = await self._interfere("device_token")
        if interfered is not None:
            return interfered
        return _send(self._state.openai_device_token(recorded.fields))


def _peer(request: web.Request) -> tuple[str, int] | None:
    peername = request.transport.get_extra_info("peername") if request.transport else None
    return (str(peername[0]), int(peername[1])) if peername else None
