"""The oidc-provider test issuer's device authorization grant (RFC 8628) on its own.

Written with the standard library only, not with codex-login.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import ScriptedBrowserError, approve_device, deny_device

_REASON = issuer_unavailable_reason()
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_REASON is not None, reason=_REASON or ""),
]

AUTH_CLAIM = "https://api.openai.com/auth"
SCOPE = "openid profile email offline_access"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

Json = dict[str, Any]


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


def _post(url: str, fields: dict[str, str]) -> tuple[int, Json]:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _jwt_part(token: str, index: int) -> Json:
    part = token.split(".")[index]
    decoded: Json = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _start(issuer: OidcIssuer) -> Json:
    status, body = _post(
        issuer.device_authorization_url, {"client_id": issuer.client_id, "scope": SCOPE}
    )
    assert status == 200, body
    return body


def _poll(issuer: OidcIssuer, device: Json) -> tuple[int, Json]:
    return _post(
        issuer.token_url,
        {
            "grant_type": DEVICE_CODE,
            "device_code": device["device_code"],
            "client_id": issuer.client_id,
        },
    )


def _poll_until_not_pending(issuer: OidcIssuer, device: Json, timeout: float) -> tuple[int, Json]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = _poll(issuer, device)
        if body.get("error") != "authorization_pending" or time.monotonic() > deadline:
            return status, body
        time.sleep(0.05)  # the poll pace, not a wait for something


def _is(kind: str, **fields: object) -> Callable[[Event], bool]:
    def predicate(event: Event) -> bool:
        return event.get("event") == kind and all(event.get(k) == v for k, v in fields.items())

    return predicate


def test_discovery_names_the_device_endpoint(issuer: OidcIssuer) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"{issuer.issuer}/.well-known/openid-configuration"
    with opener.open(url, timeout=10) as response:
        discovery = json.loads(response.read())

    assert discovery["device_authorization_endpoint"] == issuer.device_authorization_url
    assert DEVICE_CODE in discovery["grant_types_supported"]


def test_device_authorization_answers_codes_and_uris_without_interval(issuer: OidcIssuer) -> None:
    device = _start(issuer)

    assert set(device) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
    }
    assert device["verification_uri"] == f"{issuer.issuer}/device"
    assert device["verification_uri_complete"] == (
        f"{issuer.issuer}/device?user_code={device['user_code']}"
    )
    assert re.fullmatch("[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", device["user_code"])
    assert device["expires_in"] == 600
    issuer.wait_for_event(_is("device_authorization.success", user_code=device["user_code"]))


def test_interval_and_expiry_come_from_the_settings() -> None:
    with OidcIssuer(device_interval=1, device_code_ttl=2) as issuer:
        device = _start(issuer)

        assert (device["interval"], device["expires_in"]) == (1, 2)
        status, body = _poll_until_not_pending(issuer, device, timeout=10)
        assert (status, body["error"]) == (400, "expired_token")


def test_polling_before_approval_is_pending_and_never_slowed_down(issuer: OidcIssuer) -> None:
    device = _start(issuer)

    answers = [_poll(issuer, device) for _ in range(5)]  # far faster than the 5 s default

    assert {(status, body["error"]) for status, body in answers} == {(400, "authorization_pending")}
    issuer.wait_for_count(_is("grant.error", grant_type=DEVICE_CODE), 5)


def test_approval_gives_id_token_with_claims_jwt_access_token_and_refresh_token(
    issuer: OidcIssuer,
) -> None:
    device = _start(issuer)
    assert _poll(issuer, device)[1]["error"] == "authorization_pending"

    approve_device(device["verification_uri"], device["user_code"], login="alice")
    status, tokens = _poll_until_not_pending(issuer, device, timeout=10)

    assert status == 200, tokens
    assert tokens["scope"] == SCOPE  # offline_access kept, unlike the code flow
    id_claims = _jwt_part(tokens["id_token"], 1)
    assert (id_claims["sub"], id_claims["email"]) == ("alice", "user@example.com")
    assert id_claims[AUTH_CLAIM]["chatgpt_account_id"] == "acc-123"
    assert _jwt_part(tokens["access_token"], 0)["typ"] == "at+jwt"
    assert _jwt_part(tokens["access_token"], 1)[AUTH_CLAIM] == id_claims[AUTH_CLAIM]
    issuer.wait_for_event(_is("grant.success", grant_type=DEVICE_CODE))
    status, refreshed = _post(
        issuer.token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": issuer.client_id,
        },
    )
    assert status == 200, refreshed
    assert _jwt_part(refreshed["id_token"], 1)[AUTH_CLAIM] == id_claims[AUTH_CLAIM]


def test_the_complete_uri_carries_the_code(issuer: OidcIssuer) -> None:
    device = _start(issuer)

    approve_device(device["verification_uri_complete"], device["user_code"])

    assert _poll(issuer, device)[0] == 200


def test_a_second_poll_after_success_revokes_the_grant(issuer: OidcIssuer) -> None:
    device = _start(issuer)
    approve_device(device["verification_uri"], device["user_code"])
    _, tokens = _poll(issuer, device)

    status, body = _poll(issuer, device)

    assert (status, body["error"]) == (400, "invalid_grant")
    issuer.wait_for_event(_is("grant.error", error_detail="device code already consumed"))
    issuer.wait_for_event(_is("grant.revoked", route="token"))
    refresh_status, _ = _post(
        issuer.token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": issuer.client_id,
        },
    )
    assert refresh_status == 400


def test_abort_on_the_confirm_page_gives_access_denied(issuer: OidcIssuer) -> None:
    device = _start(issuer)

    deny_device(device["verification_uri"], device["user_code"])
    status, body = _poll_until_not_pending(issuer, device, timeout=10)

    assert (status, body) == (
        400,
        {"error": "access_denied", "error_description": "End-User aborted interaction"},
    )
    issuer.wait_for_event(_is("grant.error", grant_type=DEVICE_CODE, error="access_denied"))


def test_a_wrong_user_code_is_refused_by_the_page(issuer: OidcIssuer) -> None:
    device = _start(issuer)

    with pytest.raises(ScriptedBrowserError, match="The code you entered is incorrect"):
        approve_device(device["verification_uri"], "BCDF-GHJK")
