"""The fake issuer's values: what it records, how it misbehaves, its replies."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any, Literal

import attrs

from codex_login.domain.fields_repr import FieldsRepr

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
    "workload_identity",  # the JWT-bearer grant: an identity token for an access token
    "whoami",  # GET /api/accounts/v1/user-auth-credential/whoami (access tokens)
)
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105  (a grant type)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_ENDPOINTS = {
    JWT_BEARER_GRANT: "workload_identity",
    "authorization_code": "code",
    TOKEN_EXCHANGE: "api_key",
    "refresh_token": "refresh",
    DEVICE_CODE_GRANT: "device_token",
}


@attrs.define(repr=False)
class Recorded(FieldsRepr):
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

    def header(self, name: str) -> str | None:
        """The value of header ``name``, whatever its case in the request (None: not sent)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def grant_type(self) -> str | None:
        value = self.fields.get("grant_type")
        return value if isinstance(value, str) else None


@attrs.define(repr=False)
class Failure(FieldsRepr):
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


@attrs.define(repr=False)
class Device(FieldsRepr):
    """One device login: ``state`` is pending, approved, denied, expired or used."""

    device_code: str
    user_code: str
    state: str = "pending"


@attrs.frozen(repr=False)
class Visit(FieldsRepr):
    """Where a browser ended up after following every redirect, and what it showed."""

    status: int
    url: str
    body: str


@attrs.define(repr=False)
class Grant(FieldsRepr):
    """One login's chain of refresh tokens; only the last one works. ``access_token``
    is the newest access token handed out with them (None before the first).
    ``claims``: who signed in, as the issuer's ``claims`` were then; every ID token of
    the grant carries them, as a real refresh answers for the same user."""

    refresh_tokens: list[str]
    revoked: bool = False
    access_token: str | None = attrs.field(default=None, repr=False)
    claims: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen(repr=False)
class IssuedAccess(FieldsRepr):
    """What the issuer knows of an access token it handed out, for a resource server.

    ``standing`` is ``current`` for its grant's newest access token, ``superseded``
    once a refresh handed out a newer one, ``revoked`` once the grant was revoked
    (a logout, or a spent refresh token reused). ``account_id`` is the ChatGPT
    account of the ID token issued with it (None: no account).
    """

    account_id: str | None
    expires_at: datetime
    standing: Literal["current", "superseded", "revoked"]


@attrs.frozen(repr=False)
class Reply(FieldsRepr):
    """A JSON answer, decided by the state and sent by the app."""

    status: int
    document: dict[str, Any]


def error(status: int, code: str, description: str = "") -> Reply:
    return Reply(status, {"error": code, "error_description": description})


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@attrs.define(repr=False)
class WorkloadRule(FieldsRepr):
    """A federation rule: which identity tokens it accepts and whom it signs in.

    An identity token is accepted when it is one of ``tokens`` (opaque values), or a JWT
    whose ``sub`` is ``subject`` and whose ``exp``, if any, is still ahead (its signature
    is not checked: the test signed it). The answer names ``user_id``, ``account_id``
    (the workspace) and ``account_user_id`` (the membership); change them to play an
    issuer whose mapping changed.
    """

    subject: str | None = None
    tokens: set[str] = attrs.Factory(set)
    user_id: str = "user-wi"
    account_id: str = "ws-ci"
    account_user_id: str = "member-wi"
    plan: str = "enterprise"
