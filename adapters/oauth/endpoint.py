"""The TokenEndpoint port for real issuers: it builds each request and reads its answer;
the transport sends it and the issuer's dialect says where and in what shape."""

from __future__ import annotations

import base64
import secrets

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from codex_login.adapters.oauth.dialects import SCOPE, Dialect, dialects
from codex_login.adapters.oauth.transport import Transport
from codex_login.adapters.oauth_answers import read_grant
from codex_login.domain.device import DeviceCode, DevicePending
from codex_login.domain.errors import TokenEndpointError
from codex_login.domain.failures import refresh_failure
from codex_login.domain.issuer import IssuerConfig, IssuerEndpoints
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.tokens import TokenGrant
from codex_login.domain.workload_identity import WorkloadGrant, WorkloadIdentity

REFRESH_SCOPE = "openid profile email"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


class HttpTokenEndpoint:
    """The TokenEndpoint port for real issuers; each call names the issuer it goes to.

    A standard issuer's endpoints come from its metadata (``discovery``); the requests
    share one HTTP session (``transport``), closed by ``aclose()``.
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        revoke_timeout: float = 10.0,
    ) -> None:
        self._transport = Transport(
            ca_file=ca_file,
            timeout=timeout,
            connect_timeout=connect_timeout,
            revoke_timeout=revoke_timeout,
        )
        self._dialects = dialects(self._transport)

    @property
    def sessions_made(self) -> int:
        """How many sessions this endpoint made (one while all requests share a loop)."""
        return self._transport.sessions_made

    async def aclose(self) -> None:
        """Close the shared session; call it on the loop that made it. A later request
        makes a new one."""
        await self._transport.aclose()

    def _dialect(self, issuer: IssuerConfig) -> Dialect:
        return self._dialects[issuer.profile]

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints:
        """Where this issuer's endpoints are: fixed paths (``openai``) or its metadata."""
        return await self._dialect(issuer).endpoints(issuer)

    # -- authorization ----------------------------------------------------------

    async def authorization_request(
        self, issuer: IssuerConfig, *, redirect_uri: str
    ) -> AuthorizationRequest:
        endpoints = await self.endpoints(issuer)
        verifier = _b64url(secrets.token_bytes(64))
        state = _b64url(secrets.token_bytes(32))
        url = prepare_grant_uri(
            endpoints.authorize,
            issuer.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPE,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            id_token_add_organizations="true",
            codex_cli_simplified_flow="true",
        )
        # The Codex CLI sends state last; authlib would put it before the extras.
        url = add_params_to_uri(url, [("state", state)])
        return AuthorizationRequest(
            url=url,
            redirect_uri=redirect_uri,
            state=state,
            verifier=verifier,
            iss_advertised=endpoints.iss_parameter_supported,
        )

    # -- token endpoint -----------------------------------------------------------

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            client_id=issuer.client_id,
            code_verifier=verifier,
        )
        url = (await self.endpoints(issuer)).token
        what = "the code exchange"
        answer = await self._transport.request("POST", url, form=body, what=what)
        return read_grant(answer.success(what))

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        body = prepare_token_request(
            TOKEN_EXCHANGE,
            client_id=issuer.client_id,
            requested_token="openai-api-key",
            subject_token=id_token,
            subject_token_type=ID_TOKEN_TYPE,
        )
        url = (await self.endpoints(issuer)).token
        what = "the API-key exchange"
        answer = await self._transport.request("POST", url, form=body, what=what)
        key = read_grant(answer.success(what)).access_token
        if key is None:
            raise TokenEndpointError("the API-key exchange answered without an access_token")
        return key

    async def exchange_workload_identity(
        self, issuer: IssuerConfig, identity: WorkloadIdentity
    ) -> WorkloadGrant:
        from codex_login.adapters.oauth import workload_identity  # noqa: PLC0415

        url = (await self.endpoints(issuer)).token
        return await workload_identity.exchange_workload_identity(self._transport, url, identity)

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        fields = {
            "client_id": issuer.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": REFRESH_SCOPE,
        }
        # An override off the issuer's origin is refused before anything is sent.
        url = issuer.check_overrides().refresh_url_override or (await self.endpoints(issuer)).token
        answer = await self._dialect(issuer).post_fields(url, fields, what="the refresh")
        document = answer.json_object()
        if answer.status == 200 and document is not None:
            return read_grant(document)
        code, description = answer.oauth_error()
        if document is None:
            description = f"the issuer answered with {answer.describe_body()}"
        raise refresh_failure(answer.status, code, description, readable=document is not None)

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        url = issuer.check_overrides().revoke_url_override
        url = url or (await self.endpoints(issuer)).revocation
        if url is None:
            raise TokenEndpointError(
                f"{issuer.issuer} lists no revocation_endpoint in its metadata, "
                "so the token could not be revoked there"
            )
        fields = {"token": token, "token_type_hint": hint, "client_id": issuer.client_id}
        dialect = self._dialect(issuer)
        answer = await dialect.post_fields(url, fields, what="revoking", revoke=True)
        if answer.status != 200:
            code, description = answer.oauth_error()
            detail = ": ".join(p for p in (f"HTTP {answer.status}", code, description) if p)
            raise TokenEndpointError(
                f"the issuer did not revoke the token ({detail})", status=answer.status
            )

    # -- device code (the dialect's: RFC 8628, or the OpenAI issuer's own) ----------

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        return await self._dialect(issuer).start_device(issuer)

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        return await self._dialect(issuer).poll_device(issuer, device, self.exchange_code)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
