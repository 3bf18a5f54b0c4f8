"""The oidc-provider test issuer on its own: the protocol codex-login will be tested against.

Written with the standard library only, not with codex-login.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import authorization_redirect, complete_authorization
from support.servers import serve_in_thread

_REASON = issuer_unavailable_reason()
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_REASON is not None, reason=_REASON or ""),
]

AUTH_CLAIM = "https://api.openai.com/auth"
SCOPE = "openid profile email offline_access"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
DEFAULT_AUTH_CLAIM = {
    "chatgpt_plan_type": "pro",
    "chatgpt_account_id": "acc-123",
    "chatgpt_user_id": "user-123",
    "organization_id": "org-1",
    "project_id": "proj-1",
    "completed_platform_onboarding": True,
    "is_org_owner": False,
}

Json = dict[str, Any]


class CallbackListener:
    """A stand-in for the client's loopback callback: records requests, redirects to /success."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._condition = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with listener._condition:
                    listener.paths.append(self.path)
                    listener._condition.notify_all()
                if self.path.startswith("/auth/callback?"):
                    self.send_response(302)
                    self.send_header("Location", "/success?plan_type=pro")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith("/success"):
                    body = b"signed in"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.redirect_uri = f"http://localhost:{self.port}/auth/callback"
        self._serving = contextlib.ExitStack()
        self._serving.enter_context(serve_in_thread(self._server, name="oidc-smoke-callback"))

    def wait_for_path(self, prefix: str, timeout: float = 10.0) -> str:
        with self._condition:
            found = self._condition.wait_for(
                lambda: any(p.startswith(prefix) for p in self.paths), timeout
            )
            assert found, f"no request for {prefix} in {self.paths}"
            return next(p for p in self.paths if p.startswith(prefix))

    def close(self) -> None:
        self._serving.close()


# One issuer per test, so that the events a test waits for are its own (~0.5 s each).
@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


@pytest.fixture
def configured_issuer() -> Iterator[OidcIssuer]:
    """An issuer with every setting changed: claims, access token TTL, failing exchange."""
    with OidcIssuer(
        claims={"chatgpt_plan_type": "plus", "chatgpt_account_id": None, "email": "b@example.com"},
        access_token_ttl=5,
        token_exchange_fails=True,
    ) as running:
        yield running


@pytest.fixture
def callback() -> Iterator[CallbackListener]:
    listener = CallbackListener()
    yield listener
    listener.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_part(token: str, index: int) -> Json:
    part = token.split(".")[index]
    decoded: Json = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _authorize_url(issuer: OidcIssuer, redirect_uri: str, verifier: str, state: str) -> str:
    query = urllib.parse.urlencode(
        [
            ("response_type", "code"),
            ("client_id", issuer.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", SCOPE),
            ("code_challenge", _b64(hashlib.sha256(verifier.encode()).digest())),
            ("code_challenge_method", "S256"),
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
            ("state", state),
        ],
        quote_via=urllib.parse.quote,
    )
    return f"{issuer.authorize_url}?{query}"


def _post(url: str, fields: dict[str, str], *, as_json: bool = False) -> tuple[int, Json]:
    if as_json:
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        body = urllib.parse.urlencode(fields).encode()
        content_type = "application/x-www-form-urlencoded"
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        with error:
            text, status = error.read().decode(), error.code
    return status, json.loads(text) if text else {}


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _login(issuer: OidcIssuer, callback: CallbackListener) -> Json:
    """Browser login through the real callback, then the code exchange; returns the tokens."""
    verifier = _b64(secrets.token_bytes(64))
    state = _b64(secrets.token_bytes(32))
    delivered = complete_authorization(
        _authorize_url(issuer, callback.redirect_uri, verifier, state)
    )
    params = _query(delivered)
    assert params["state"] == state
    status, tokens = _post(
        issuer.token_url,
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback.redirect_uri,
            "client_id": issuer.client_id,
            "code_verifier": verifier,
        },
    )
    assert status == 200, tokens
    return tokens


def _refresh(issuer: OidcIssuer, refresh_token: str) -> tuple[int, Json]:
    return _post(
        issuer.token_url,
        {
            "client_id": issuer.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": "openid profile email",
        },
    )


def _exchange(issuer: OidcIssuer, id_token: str) -> tuple[int, Json]:
    return _post(
        issuer.token_url,
        {
            "grant_type": TOKEN_EXCHANGE,
            "client_id": issuer.client_id,
            "requested_token": "openai-api-key",
            "subject_token": id_token,
            "subject_token_type": ID_TOKEN_TYPE,
        },
    )


def _is(kind: str, **fields: object) -> Any:
    def predicate(event: Event) -> bool:
        return event.get("event") == kind and all(event.get(k) == v for k, v in fields.items())

    return predicate


def test_browser_login_reaches_the_loopback_callback_with_code_state_and_iss(
    issuer: OidcIssuer, callback: CallbackListener
) -> None:
    state = _b64(secrets.token_bytes(32))
    url = _authorize_url(issuer, callback.redirect_uri, _b64(secrets.token_bytes(64)), state)

    delivered = complete_authorization(url)

    assert delivered.startswith(f"{callback.redirect_uri}?")
    params = _query(delivered)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == state
    assert params["iss"] == issuer.issuer
    assert callback.wait_for_path("/auth/callback?") == delivered.removeprefix(
        f"http://localhost:{callback.port}"
    )
    callback.wait_for_path("/success")


def test_authorization_redirect_does_not_deliver_the_callback(
    issuer: OidcIssuer, callback: CallbackListener
) -> None:
    url = _authorize_url(issuer, callback.redirect_uri, _b64(secrets.token_bytes(64)), "s")

    redirect = authorization_redirect(url)

    assert "code" in _query(redirect)
    assert callback.paths == []


def test_code_exchange_gives_id_token_with_claims_jwt_access_token_and_refresh_token(
    issuer: OidcIssuer, callback: CallbackListener
) -> None:
    before = time.time()

    tokens = _login(issuer, callback)

    id_claims = _jwt_part(tokens["id_token"], 1)
    assert id_claims["iss"] == issuer.issuer
    assert id_claims["aud"] == issuer.client_id
    assert id_claims["email"] == "user@example.com"
    assert id_claims[AUTH_CLAIM] == DEFAULT_AUTH_CLAIM
    assert _jwt_part(tokens["access_token"], 0)["typ"] == "at+jwt"
    access_claims = _jwt_part(tokens["access_token"], 1)
    assert access_claims["exp"] - access_claims["iat"] == 3600
    assert access_claims["exp"] > before
    assert tokens["refresh_token"]
    issuer.wait_for_event(_is("grant.success", grant_type="authorization_code"))


def test_claims_and_access_token_ttl_come_from_the_settings(
    configured_issuer: OidcIssuer, callback: CallbackListener
) -> None:
    tokens = _login(configured_issuer, callback)

    id_claims = _jwt_part(tokens["id_token"], 1)
    assert id_claims["email"] == "b@example.com"
    assert id_claims[AUTH_CLAIM]["chatgpt_plan_type"] == "plus"
    assert "chatgpt_account_id" not in id_claims[AUTH_CLAIM]
    access_claims = _jwt_part(tokens["access_token"], 1)
    assert access_claims["exp"] - access_claims["iat"] == 5
    assert tokens["expires_in"] == 5


def test_token_exchange_gives_an_api_key(issuer: OidcIssuer, callback: CallbackListener) -> None:
    tokens = _login(issuer, callback)

    status, body = _exchange(issuer, tokens["id_token"])

    assert status == 200, body
    assert body["access_token"].startswith("sk-proj-")
    issuer.wait_for_event(_is("grant.success", grant_type=TOKEN_EXCHANGE))


def test_token_exchange_can_be_made_to_fail(
    configured_issuer: OidcIssuer, callback: CallbackListener
) -> None:
    tokens = _login(configured_issuer, callback)

    status, body = _exchange(configured_issuer, tokens["id_token"])

    assert (status, body["error"]) == (400, "invalid_grant")
    configured_issuer.wait_for_event(_is("grant.error", grant_type=TOKEN_EXCHANGE))


def test_token_exchange_refuses_a_forged_id_token(issuer: OidcIssuer) -> None:
    header = _b64(b'{"alg":"RS256"}')
    payload = _b64(json.dumps({"iss": issuer.issuer, "aud": issuer.client_id}).encode())

    status, body = _exchange(issuer, f"{header}.{payload}.{_b64(b'sig')}")

    assert (status, body["error"]) == (400, "invalid_grant")


def test_refresh_rotates_the_refresh_token_and_keeps_the_claims(
    issuer: OidcIssuer, callback: CallbackListener
) -> None:
    tokens = _login(issuer, callback)

    status, refreshed = _refresh(issuer, tokens["refresh_token"])

    assert status == 200, refreshed
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert _jwt_part(refreshed["id_token"], 1)[AUTH_CLAIM] == DEFAULT_AUTH_CLAIM
    assert _jwt_part(refreshed["id_token"], 1)["email"] == "user@example.com"
    assert _jwt_part(refreshed["access_token"], 1)["exp"] > time.time()
    issuer.wait_for_event(_is("refresh_token.consumed"))
    issuer.wait_for_event(_is("grant.success", grant_type="refresh_token"))


def test_reusing_a_rotated_refresh_token_fails_and_revokes_the_grant(
    issuer: OidcIssuer, callback: CallbackListener
) -> None:
    tokens = _login(issuer, callback)
    _, refreshed = _refresh(issuer, tokens["refresh_token"])

    reuse_status, reuse_body = _refresh(issuer, tokens["refresh_token"])
    newest_status, newest_body = _refresh(issuer, refreshed["refresh_token"])

    assert (reuse_status, reuse_body["error"]) == (400, "invalid_grant")
    assert (newest_status, newest_body["error"]) == (400, "invalid_grant")
    issuer.wait_for_event(_is("grant.error", error_detail="refresh token already used"))
    issuer.wait_for_event(_is("grant.revoked", route="token"))


def test_revocation_ends_the_grant(issuer: OidcIssuer, callback: CallbackListener) -> None:
    tokens = _login(issuer, callback)

    status, body = _post(
        issuer.revoke_url,
        {
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": issuer.client_id,
        },
    )

    assert (status, body) == (200, {})
    issuer.wait_for_event(_is("revocation.success"))
    issuer.wait_for_event(_is("grant.revoked", route="revocation"))
    refresh_status, refresh_body = _refresh(issuer, tokens["refresh_token"])
    assert (refresh_status, refresh_body["error"]) == (400, "invalid_grant")


def test_a_json_bodied_token_request_is_refused(issuer: OidcIssuer) -> None:
    status, body = _post(
        issuer.token_url,
        {"client_id": issuer.client_id, "grant_type": "refresh_token", "refresh_token": "x"},
        as_json=True,
    )

    assert (status, body["error"]) == (400, "invalid_request")
