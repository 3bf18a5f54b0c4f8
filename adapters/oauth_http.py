"""The issuer's OAuth endpoints over aiohttp, with authlib's RFC helpers.

Every aiohttp, authlib, SSL and JSON error is translated into the project's own
errors here; the issuer's ``error`` / ``error_description`` travel with them.
TLS verification is always on; proxies come from the environment.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from authlib.common.urls import add_params_to_uri, url_encode
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from codex_login.domain.device import DEFAULT_INTERVAL, MAX_WAIT, DeviceCode, DevicePending
from codex_login.domain.errors import (
    AuthorizationDenied,
    ConfigurationError,
    LoginTimedOut,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.failures import refresh_failure
from codex_login.domain.issuer import IssuerConfig, IssuerProfile, check_url
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.tokens import TokenGrant

log = logging.getLogger(__name__)

SCOPE = "openid profile email offline_access"
REFRESH_SCOPE = "openid profile email"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_BODY = 1 << 20


class _Answer:
    """An HTTP answer whose body was read within the size limit."""

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        self.status, self.reason, self.body = status, reason, body

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
    """The TokenEndpoint port for a real issuer."""

    def __init__(
        self,
        config: IssuerConfig,
        *,
        ca_file: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        revoke_timeout: float = 10.0,
    ) -> None:
        self.config = config
        self._ca_file = ca_file
        self._ssl: ssl.SSLContext | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._revoke_timeout = aiohttp.ClientTimeout(
            total=revoke_timeout, connect=min(connect_timeout, revoke_timeout)
        )

    # -- authorization ----------------------------------------------------------

    def authorization_request(self, *, redirect_uri: str) -> AuthorizationRequest:
        verifier = _b64url(secrets.token_bytes(64))
        state = _b64url(secrets.token_bytes(32))
        url = prepare_grant_uri(
            self.config.authorize_url,
            self.config.client_id,
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
            url=url, redirect_uri=redirect_uri, state=state, verifier=verifier
        )

    # -- token endpoint -----------------------------------------------------------

    async def exchange_code(self, *, code: str, redirect_uri: str, verifier: str) -> TokenGrant:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            client_id=self.config.client_id,
            code_verifier=verifier,
        )
        answer = await self._request(
            "POST", self.config.token_url, form=body, what="the code exchange"
        )
        return _grant(self._success(answer, "the code exchange"))

    async def exchange_api_key(self, *, id_token: str) -> str:
        body = prepare_token_request(
            TOKEN_EXCHANGE,
            client_id=self.config.client_id,
            requested_token="openai-api-key",
            subject_token=id_token,
            subject_token_type=ID_TOKEN_TYPE,
        )
        answer = await self._request(
            "POST", self.config.token_url, form=body, what="the API-key exchange"
        )
        key = self._success(answer, "the API-key exchange").get("access_token")
        if not isinstance(key, str) or not key:
            raise TokenEndpointError("the API-key exchange answered without an access_token")
        return key

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        fields = {
            "client_id": self.config.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": REFRESH_SCOPE,
        }
        answer = await self._post_fields(self.config.refresh_url, fields, what="the refresh")
        document = answer.json_object()
        if answer.status == 200 and document is not None:
            return _grant(document)
        code, description = _oauth_error(document)
        if document is None:
            description = f"the issuer answered with {answer.describe_body()}"
        raise refresh_failure(answer.status, code, description, readable=document is not None)

    async def revoke(self, *, token: str, hint: str) -> None:
        fields = {"token": token, "token_type_hint": hint, "client_id": self.config.client_id}
        answer = await self._post_fields(
            self.config.revoke_url, fields, what="revoking", revoke=True
        )
        if answer.status != 200:
            code, description = _oauth_error(answer.json_object())
            detail = ": ".join(p for p in (f"HTTP {answer.status}", code, description) if p)
            raise TokenEndpointError(
                f"the issuer did not revoke the token ({detail})", status=answer.status
            )

    # -- device code (RFC 8628, or the OpenAI issuer's own endpoints) -------------

    async def start_device_authorization(self) -> DeviceCode:
        if self.config.profile is IssuerProfile.OPENAI:
            return await self._start_openai_device()
        url = await self._device_authorization_url()
        body = url_encode([("client_id", self.config.client_id), ("scope", SCOPE)])
        answer = await self._request("POST", url, form=body, what="asking for a device code")
        document = self._success(answer, "asking for a device code")
        device_code, user_code = _text(document, "device_code"), _text(document, "user_code")
        uri = _text(document, "verification_uri") or _text(document, "verification_url")
        if not (device_code and user_code and uri):
            raise TokenEndpointError(
                "the issuer's device code answer lacks fields RFC 8628 requires"
            )
        return DeviceCode(
            verification_uri=check_url(uri, "verification URI"),
            user_code=user_code,
            device_code=device_code,
            interval=_seconds(document.get("interval"), DEFAULT_INTERVAL),
            expires_in=_seconds(document.get("expires_in"), MAX_WAIT),
            verification_uri_complete=_text(document, "verification_uri_complete"),
        )

    async def poll_device_authorization(self, device: DeviceCode) -> TokenGrant | DevicePending:
        if self.config.profile is IssuerProfile.OPENAI:
            return await self._poll_openai_device(device)
        body = prepare_token_request(
            DEVICE_CODE_GRANT, device_code=device.device_code, client_id=self.config.client_id
        )
        answer = await self._request("POST", self.config.token_url, form=body, what="polling")
        if answer.status == 200:
            return _grant(self._success(answer, "polling"))
        code, description = _oauth_error(answer.json_object())
        if code in ("authorization_pending", "slow_down"):
            return DevicePending(slow_down=code == "slow_down")
        if code == "access_denied":
            raise AuthorizationDenied(code, description)
        if code == "expired_token":
            raise LoginTimedOut("the device code expired before it was approved; try again")
        raise self._failure(answer, "polling")

    async def _start_openai_device(self) -> DeviceCode:
        fields = {"client_id": self.config.client_id}
        url = self.config.device_usercode_url
        answer = await self._request("POST", url, json_body=fields, what="asking for a device code")
        document = self._success(answer, "asking for a device code")
        device_auth_id, user_code = _text(document, "device_auth_id"), _text(document, "user_code")
        if not (device_auth_id and user_code):
            raise TokenEndpointError(
                "the issuer's device code answer lacks device_auth_id or user_code"
            )
        return DeviceCode(
            verification_uri=self.config.device_verification_url,
            user_code=user_code,
            device_code=device_auth_id,
            interval=_seconds(document.get("interval"), DEFAULT_INTERVAL),
        )

    async def _poll_openai_device(self, device: DeviceCode) -> TokenGrant | DevicePending:
        fields = {"device_auth_id": device.device_code, "user_code": device.user_code}
        answer = await self._request(
            "POST", self.config.device_token_url, json_body=fields, what="polling"
        )
        if answer.status in (403, 404):
            return DevicePending()  # not approved yet
        document = self._success(answer, "polling")
        code, verifier = _text(document, "authorization_code"), _text(document, "code_verifier")
        if not (code and verifier):
            raise TokenEndpointError("the approval lacks authorization_code or code_verifier")
        return await self.exchange_code(
            code=code, redirect_uri=self.config.device_redirect_uri, verifier=verifier
        )

    async def _device_authorization_url(self) -> str:
        """A standard issuer names its device endpoint in its discovery document."""
        for url in self.config.discovery_urls:
            answer = await self._request("GET", url, what="reading the issuer's metadata")
            document = answer.json_object() if answer.status == 200 else None
            endpoint = _text(document or {}, "device_authorization_endpoint")
            if endpoint:
                return check_url(endpoint, "device authorization endpoint")
        raise TokenEndpointError(
            f"{self.config.issuer} offers no device login (no device_authorization_endpoint "
            "in its metadata); use the browser login"
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
        code, description = _oauth_error(document)
        detail = ": ".join(
            p for p in (f"HTTP {answer.status} {answer.reason}", code, description) if p
        )
        if document is None:
            detail += f" ({answer.describe_body()})"
        error = TransientTokenError if answer.status >= 500 else TokenEndpointError
        return error(f"{what} failed ({detail})", status=answer.status, error_code=code)

    async def _post_fields(
        self, url: str, fields: Mapping[str, str], *, what: str, revoke: bool = False
    ) -> _Answer:
        """The OpenAI issuer takes JSON bodies; a standard one forms (RFC 6749, RFC 7009)."""
        if self.config.profile is IssuerProfile.OPENAI:
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
            async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
                # Never follow a redirect: it would carry codes and tokens to another URL.
                response = await session.request(
                    method,
                    url,
                    data=form,
                    json=json_body,
                    headers=headers,
                    ssl=tls,
                    allow_redirects=False,
                )
                async with response:
                    body = await _read_limited(response)
                return _Answer(response.status, response.reason or "", body)
        except TimeoutError:
            raise TransientTokenError(
                f"{what} failed: {url} did not answer within {timeout.total:g} s"
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise TransientTokenError(f"{what} failed: TLS error talking to {url}: {exc}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientTokenError(
                f"{what} failed: cannot reach {url}: {_reason(exc)}"
            ) from None
        except ValueError as exc:  # aiohttp's reading of a malformed proxy variable
            raise ConfigurationError(
                f"{what} failed: {exc}; check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"
            ) from None


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


def _grant(document: dict[str, Any]) -> TokenGrant:
    return TokenGrant(
        id_token=_text(document, "id_token"),
        access_token=_text(document, "access_token"),
        refresh_token=_text(document, "refresh_token"),
    )


def _text(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) and value else None


def _seconds(value: object, default: float) -> float:
    """A positive number of seconds, given as a number or a numeric string."""
    if isinstance(value, bool):
        return default
    try:
        seconds = float(value) if isinstance(value, int | float | str) else default
    except ValueError:
        return default
    return seconds if 0 < seconds < 24 * 3600 else default


def _oauth_error(document: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(code, description) from RFC 6749 (`error`) or OpenAI (`error.code`) error bodies."""
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
        description[:300] if isinstance(description, str) else None,
    )


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the CA bundle {ca_file}: {_reason(exc)}; "
                "fix CODEX_CA_CERTIFICATE / SSL_CERT_FILE"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
