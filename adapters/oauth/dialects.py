"""How each issuer profile speaks, as strategies: where the endpoints are, how a body is
sent, and the device login (OpenAI's own endpoints, or RFC 8628)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from authlib.common.urls import url_encode
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from codex_login.adapters.oauth.discovery import Discovery
from codex_login.adapters.oauth.transport import Answer, Transport
from codex_login.adapters.oauth_answers import (
    read_device_authorization,
    read_grant,
    read_openai_approval,
    read_openai_device_code,
)
from codex_login.domain.device import DEFAULT_INTERVAL, MAX_WAIT, DeviceCode, DevicePending
from codex_login.domain.errors import AuthorizationDenied, LoginTimedOut, TokenEndpointError
from codex_login.domain.issuer import IssuerConfig, IssuerEndpoints, IssuerProfile
from codex_login.domain.tokens import TokenGrant

SCOPE = "openid profile email offline_access"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class CodeExchange(Protocol):
    async def __call__(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant: ...


class Dialect(Protocol):
    """What differs between issuer profiles; everything else is shared."""

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints: ...

    async def post_fields(
        self, url: str, fields: Mapping[str, str], *, what: str, revoke: bool = False
    ) -> Answer: ...

    async def start_device(self, issuer: IssuerConfig) -> DeviceCode: ...

    async def poll_device(
        self, issuer: IssuerConfig, device: DeviceCode, exchange: CodeExchange
    ) -> TokenGrant | DevicePending: ...


def dialects(transport: Transport) -> dict[IssuerProfile, Dialect]:
    """One strategy per issuer profile, sharing ``transport``."""
    return {
        IssuerProfile.OPENAI: OpenAIDialect(transport),
        IssuerProfile.STANDARD: StandardDialect(transport, Discovery(transport)),
    }


class OpenAIDialect:
    """The OpenAI issuer: fixed paths, JSON bodies, its own device endpoints."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints:
        return issuer.openai_endpoints()

    async def post_fields(
        self, url: str, fields: Mapping[str, str], *, what: str, revoke: bool = False
    ) -> Answer:
        return await self._transport.request(
            "POST", url, json_body=fields, what=what, revoke=revoke
        )

    async def start_device(self, issuer: IssuerConfig) -> DeviceCode:
        fields = {"client_id": issuer.client_id}
        url = issuer.device_usercode_url
        what = "asking for a device code"
        answer = await self._transport.request("POST", url, json_body=fields, what=what)
        code = read_openai_device_code(answer.success(what))
        if not (code.device_auth_id and code.user_code):
            raise TokenEndpointError(
                "the issuer's device code answer lacks device_auth_id or user_code"
            )
        return DeviceCode(
            verification_uri=issuer.device_verification_url,
            user_code=code.user_code,
            device_code=code.device_auth_id,
            interval=code.interval or DEFAULT_INTERVAL,
        )

    async def poll_device(
        self, issuer: IssuerConfig, device: DeviceCode, exchange: CodeExchange
    ) -> TokenGrant | DevicePending:
        fields = {"device_auth_id": device.device_code, "user_code": device.user_code}
        answer = await self._transport.request(
            "POST", issuer.device_token_url, json_body=fields, what="polling"
        )
        if answer.status in (403, 404):
            return DevicePending()  # not approved yet
        approval = read_openai_approval(answer.success("polling"))
        code, verifier = approval.authorization_code, approval.code_verifier
        if not (code and verifier):
            raise TokenEndpointError("the approval lacks authorization_code or code_verifier")
        return await exchange(
            issuer, code=code, redirect_uri=issuer.device_redirect_uri, verifier=verifier
        )


class StandardDialect:
    """Any RFC 6749 server: metadata, form bodies (RFC 6749, RFC 7009), RFC 8628."""

    def __init__(self, transport: Transport, discovery: Discovery) -> None:
        self._transport = transport
        self._discovery = discovery

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints:
        return await self._discovery.endpoints(issuer)

    async def post_fields(
        self, url: str, fields: Mapping[str, str], *, what: str, revoke: bool = False
    ) -> Answer:
        form = url_encode(list(fields.items()))
        return await self._transport.request("POST", url, form=form, what=what, revoke=revoke)

    async def start_device(self, issuer: IssuerConfig) -> DeviceCode:
        url = (await self.endpoints(issuer)).device_authorization
        if url is None:
            raise TokenEndpointError(
                f"{issuer.issuer} offers no device login (no device_authorization_endpoint "
                "in its metadata); use the browser login"
            )
        body = url_encode([("client_id", issuer.client_id), ("scope", SCOPE)])
        what = "asking for a device code"
        answer = await self._transport.request("POST", url, form=body, what=what)
        device = read_device_authorization(answer.success(what))
        uri = device.verification_uri or device.verification_url
        if not (device.device_code and device.user_code and uri):
            raise TokenEndpointError(
                "the issuer's device code answer lacks fields RFC 8628 requires"
            )
        # The user opens this page: another origin's (the honest issuer's, say) is a mix-up.
        complete = device.verification_uri_complete
        return DeviceCode(
            verification_uri=issuer.check_endpoint(uri, "verification URI"),
            user_code=device.user_code,
            device_code=device.device_code,
            interval=device.interval or DEFAULT_INTERVAL,
            expires_in=device.expires_in or MAX_WAIT,
            verification_uri_complete=(
                issuer.check_endpoint(complete, "verification URI") if complete else None
            ),
        )

    async def poll_device(
        self, issuer: IssuerConfig, device: DeviceCode, exchange: CodeExchange
    ) -> TokenGrant | DevicePending:
        body = prepare_token_request(
            DEVICE_CODE_GRANT, device_code=device.device_code, client_id=issuer.client_id
        )
        url = (await self.endpoints(issuer)).token
        answer = await self._transport.request("POST", url, form=body, what="polling")
        if answer.status == 200:
            return read_grant(answer.success("polling"))
        code, description = answer.oauth_error()
        if code in ("authorization_pending", "slow_down"):
            return DevicePending(slow_down=code == "slow_down")
        if code == "access_denied":
            raise AuthorizationDenied(code, description)
        if code == "expired_token":
            raise LoginTimedOut("the device code expired before it was approved")
        raise answer.failure("polling")
