"""The issuer's OAuth endpoints over aiohttp, with authlib's RFC helpers.

Every aiohttp, authlib, SSL and JSON error is translated into the project's own
errors here; the issuer's ``error`` / ``error_description`` travel with them.
TLS verification is always on; proxies come from the environment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from authlib.common.urls import add_params_to_uri, url_encode
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from codex_login.adapters.oauth_answers import (
    read_device_authorization,
    read_grant,
    read_metadata,
    read_openai_approval,
    read_openai_device_code,
)
from codex_login.domain.device import DEFAULT_INTERVAL, MAX_WAIT, DeviceCode, DevicePending
from codex_login.domain.errors import (
    AuthorizationDenied,
    ConfigurationError,
    LoginTimedOut,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.failures import refresh_failure
from codex_login.domain.issuer import IssuerConfig, IssuerEndpoints, IssuerProfile
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.masking import scrub
from codex_login.domain.tokens import TokenGrant

log = logging.getLogger(__name__)

SCOPE = "openid profile email offline_access"
REFRESH_SCOPE = "openid profile email"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_BODY = 1 << 20
# Request fields whose values are secrets, never to be echoed back in a message.
SECRET_FIELDS = frozenset(
    {"code", "code_verifier", "device_code", "refresh_token", "subject_token", "token"}
)


class _Answer:
    """An HTTP answer whose body was read within the size limit, and the secrets that
    the request carried (an issuer's error description may quote them)."""

    def __init__(self, status: int, reason: str, body: bytes, sent: tuple[str, ...]) -> None:
        self.status, self.reason, self.body, self.sent = status, reason, body, sent

    def oauth_error(self) -> tuple[str | None, str | None]:
        return _oauth_error(self.json_object(), self.sent)

    def json_object(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def describe_body(self) -> str:
        if not self.body.strip():
            return "an empty body"
        if self.body.lstrip()[:1] == b"<":
            return "an HTML page, not JSON"
        return "a body that is not a JSON object"


class HttpTokenEndpoint:
    """The TokenEndpoint port for real issuers; each call names the issuer it goes to.

    A standard issuer's endpoints come from its metadata (OpenID Connect
    discovery, then RFC 8414), read when the first request to it is about to be
    sent and kept for the life of this object.

    Its requests share one HTTP session (and its kept-alive connections), made on
    the loop of the first request and closed by ``aclose()`` on that loop; the
    application runs every request on one loop (``application/seam.py``). A request
    from another loop gets a session of its own, closed after it.
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        revoke_timeout: float = 10.0,
    ) -> None:
        self._ca_file = ca_file
        self._ssl: ssl.SSLContext | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._revoke_timeout = aiohttp.ClientTimeout(
            total=revoke_timeout, connect=min(connect_timeout, revoke_timeout)
        )
        self._metadata: dict[str, IssuerEndpoints] = {}
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        # How many sessions this endpoint made (one while all requests share a loop).
        self.sessions_made = 0

    async def aclose(self) -> None:
        """Close the shared session; call it on the loop that made it. A later request
        makes a new one."""
        session, self._session, self._session_loop = self._session, None, None
        if session is not None:
            await session.close()

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints:
        """Where this issuer's endpoints are: fixed paths (``openai``) or its metadata."""
        if issuer.profile is IssuerProfile.OPENAI:
            return issuer.openai_endpoints()
        known = self._metadata.get(issuer.issuer)
        if known is None:
            known = self._metadata[issuer.issuer] = await self._discover(issuer)
        return known

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
        answer = await self._request("POST", url, form=body, what="the code exchange")
        return read_grant(self._success(answer, "the code exchange"))

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        body = prepare_token_request(
            TOKEN_EXCHANGE,
            client_id=issuer.client_id,
            requested_token="openai-api-key",
            subject_token=id_token,
            subject_token_type=ID_TOKEN_TYPE,
        )
        url = (await self.endpoints(issuer)).token
        answer = await self._request("POST", url, form=body, what="the API-key exchange")
        key = read_grant(self._success(answer, "the API-key exchange")).access_token
        if key is None:
            raise TokenEndpointError("the API-key exchange answered without an access_token")
        return key

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        fields = {
            "client_id": issuer.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": REFRESH_SCOPE,
        }
        # An override off the issuer's origin is refused before anything is sent.
        url = issuer.check_overrides().refresh_url_override or (await self.endpoints(issuer)).token
        answer = await self._post_fields(issuer, url, fields, what="the refresh")
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
        answer = await self._post_fields(issuer, url, fields, what="revoking", revoke=True)
        if answer.status != 200:
            code, description = answer.oauth_error()
            detail = ": ".join(p for p in (f"HTTP {answer.status}", code, description) if p)
            raise TokenEndpointError(
                f"the issuer did not revoke the token ({detail})", status=answer.status
            )

    # -- device code (RFC 8628, or the OpenAI issuer's own endpoints) -------------

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        if issuer.profile is IssuerProfile.OPENAI:
            return await self._start_openai_device(issuer)
        url = (await self.endpoints(issuer)).device_authorization
        if url is None:
            raise TokenEndpointError(
                f"{issuer.issuer} offers no device login (no device_authorization_endpoint "
                "in its metadata); use the browser login"
            )
        body = url_encode([("client_id", issuer.client_id), ("scope", SCOPE)])
        answer = await self._request("POST", url, form=body, what="asking for a device code")
        device = read_device_authorization(self._success(answer, "asking for a device code"))
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

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        if issuer.profile is IssuerProfile.OPENAI:
            return await self._poll_openai_device(issuer, device)
        body = prepare_token_request(
            DEVICE_CODE_GRANT, device_code=device.device_code, client_id=issuer.client_id
        )
        url = (await self.endpoints(issuer)).token
        answer = await self._request("POST", url, form=body, what="polling")
        if answer.status == 200:
            return read_grant(self._success(answer, "polling"))
        code, description = answer.oauth_error()
        if code in ("authorization_pending", "slow_down"):
            return DevicePending(slow_down=code == "slow_down")
        if code == "access_denied":
            raise AuthorizationDenied(code, description)
        if code == "expired_token":
            raise LoginTimedOut("the device code expired before it was approved")
        raise self._failure(answer, "polling")

    async def _start_openai_device(self, issuer: IssuerConfig) -> DeviceCode:
        fields = {"client_id": issuer.client_id}
        url = issuer.device_usercode_url
        answer = await self._request("POST", url, json_body=fields, what="asking for a device code")
        code = read_openai_device_code(self._success(answer, "asking for a device code"))
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

    async def _poll_openai_device(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        fields = {"device_auth_id": device.device_code, "user_code": device.user_code}
        answer = await self._request(
            "POST", issuer.device_token_url, json_body=fields, what="polling"
        )
        if answer.status in (403, 404):
            return DevicePending()  # not approved yet
        approval = read_openai_approval(self._success(answer, "polling"))
        code, verifier = approval.authorization_code, approval.code_verifier
        if not (code and verifier):
            raise TokenEndpointError("the approval lacks authorization_code or code_verifier")
        return await self.exchange_code(
            issuer, code=code, redirect_uri=issuer.device_redirect_uri, verifier=verifier
        )

    # -- metadata -----------------------------------------------------------------

    async def _discover(self, issuer: IssuerConfig) -> IssuerEndpoints:
        """OpenID Connect discovery first, then RFC 8414."""
        tried = []
        for url in issuer.discovery_urls:
            answer = await self._request("GET", url, what="reading the issuer's metadata")
            document = answer.json_object() if answer.status == 200 else None
            if document is not None:
                return _endpoints_from(document, issuer, url)
            tried.append(f"{url} answered HTTP {answer.status}")
        raise TokenEndpointError(
            f"{issuer.issuer} publishes no OAuth metadata ({'; '.join(tried)}); "
            "check the issuer URL, or set CODEX_LOGIN_ISSUER_PROFILE=openai for an "
            "issuer with OpenAI's paths"
        )

    # -- plumbing -------------------------------------------------------------------

    def _tls(self) -> ssl.SSLContext:
        """Loading the trust store is slow; only HTTPS requests need it."""
        if self._ssl is None:
            self._ssl = _ssl_context(self._ca_file)
        return self._ssl

    def _success(self, answer: _Answer, what: str) -> dict[str, Any]:
        """The answer's JSON object, or the error that explains why there is none."""
        document = answer.json_object()
        if answer.status == 200 and document is not None:
            return document
        raise self._failure(answer, what)

    def _failure(self, answer: _Answer, what: str) -> TokenEndpointError:
        document = answer.json_object()
        if answer.status == 200:
            return TransientTokenError(
                f"{what} failed: the issuer answered with {answer.describe_body()}"
            )
        code, description = answer.oauth_error()
        detail = ": ".join(
            p for p in (f"HTTP {answer.status} {answer.reason}", code, description) if p
        )
        if document is None:
            detail += f" ({answer.describe_body()})"
        error = TransientTokenError if answer.status >= 500 else TokenEndpointError
        return error(f"{what} failed ({detail})", status=answer.status, error_code=code)

    async def _post_fields(
        self,
        issuer: IssuerConfig,
        url: str,
        fields: Mapping[str, str],
        *,
        what: str,
        revoke: bool = False,
    ) -> _Answer:
        """The OpenAI issuer takes JSON bodies; a standard one forms (RFC 6749, RFC 7009)."""
        if issuer.profile is IssuerProfile.OPENAI:
            return await self._request("POST", url, json_body=fields, what=what, revoke=revoke)
        form = url_encode(list(fields.items()))
        return await self._request("POST", url, form=form, what=what, revoke=revoke)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        form: str | None = None,
        json_body: Mapping[str, str] | None = None,
        revoke: bool = False,
    ) -> _Answer:
        headers = {"Accept": "application/json"}
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        timeout = self._revoke_timeout if revoke else self._timeout
        tls: ssl.SSLContext | bool = self._tls() if url.startswith("https:") else True
        log.debug("%s %s (%s)", method, url, what)
        try:
            async with self._session_for_this_loop() as session:
                # Never follow a redirect: it would carry codes and tokens to another URL.
                response = await session.request(
                    method,
                    url,
                    data=form,
                    json=json_body,
                    headers=headers,
                    ssl=tls,
                    allow_redirects=False,
                    timeout=timeout,
                )
                async with response:
                    body = await _read_limited(response)
                sent = _secrets_sent(form, json_body)
                return _Answer(response.status, response.reason or "", body, sent)
        except TimeoutError as exc:
            raise TransientTokenError(
                f"{what} failed: {url} did not answer within {timeout.total:g} s"
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise TransientTokenError(f"{what} failed: TLS error talking to {url}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientTokenError(f"{what} failed: cannot reach {url}: {_reason(exc)}") from exc
        except ValueError as exc:  # aiohttp's reading of a malformed proxy variable
            raise ConfigurationError(
                f"{what} failed: {exc}; check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"
            ) from exc

    @contextlib.asynccontextmanager
    async def _session_for_this_loop(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The shared session on its own loop; on another loop, one for this request."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed:
            self._session, self._session_loop = self._new_session(), loop
        if self._session_loop is loop:
            yield self._session
            return
        async with self._new_session() as session:
            yield session

    def _new_session(self) -> aiohttp.ClientSession:
        self.sessions_made += 1
        return aiohttp.ClientSession(timeout=self._timeout, trust_env=True)


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransientTokenError(
                f"{response.url.with_query(None)} answered with more than {MAX_BODY // 1024} KiB"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoints_from(document: dict[str, Any], config: IssuerConfig, url: str) -> IssuerEndpoints:
    """The endpoints an issuer's metadata names, refusing another issuer's (RFC 8414 §3.3)
    and, against a mix-up, endpoints on another origin than the issuer's own that the
    user does not trust (RFC 9700 §4.4)."""
    metadata = read_metadata(document)
    issuer = config.issuer
    named = metadata.issuer
    if named is None or named.rstrip("/") != issuer:
        raise TokenEndpointError(
            f"the metadata at {url} names the issuer {named!r}, not {issuer}; "
            "refusing it (RFC 8414 §3.3): check the issuer URL"
        )
    authorize, token = metadata.authorization_endpoint, metadata.token_endpoint
    if authorize is None or token is None:
        raise TokenEndpointError(
            f"the metadata at {url} lacks authorization_endpoint or token_endpoint"
        )

    def optional(value: str | None, name: str) -> str | None:
        return config.check_endpoint(value, name) if value else None

    return IssuerEndpoints(
        issuer=issuer,
        authorize=config.check_endpoint(authorize, "authorization endpoint"),
        token=config.check_endpoint(token, "token endpoint"),
        revocation=optional(metadata.revocation_endpoint, "revocation endpoint"),
        device_authorization=optional(
            metadata.device_authorization_endpoint, "device authorization endpoint"
        ),
        iss_parameter_supported=metadata.authorization_response_iss_parameter_supported,
    )


def _oauth_error(
    document: dict[str, Any] | None, sent: tuple[str, ...]
) -> tuple[str | None, str | None]:
    """(code, description) from RFC 6749 (`error`) or OpenAI (`error.code`) error bodies.

    The description is cut to a readable length, after the secrets the request
    carried are scrubbed from it (a cut could leave a part no scrubbing would find).
    """
    if document is None:
        return None, None
    error = document.get("error")
    if isinstance(error, dict):
        code, description = error.get("code") or error.get("type"), error.get("message")
    else:
        code, description = error, document.get("error_description")
    if not code:
        code = document.get("code")
    return (
        code if isinstance(code, str) else None,
        scrub(description, sent)[:300] if isinstance(description, str) else None,
    )


def _secrets_sent(form: str | None, json_body: Mapping[str, str] | None) -> tuple[str, ...]:
    fields = dict(parse_qsl(form)) if form else dict(json_body or {})
    return tuple(value for name, value in fields.items() if name in SECRET_FIELDS and value)


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the CA bundle {ca_file}: {_reason(exc)}; "
                "fix CODEX_CA_CERTIFICATE / SSL_CERT_FILE"
            ) from exc
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
