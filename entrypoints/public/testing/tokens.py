"""Unsigned JWTs shaped like the OpenAI issuer's, for tests.

``id_token()`` builds an ID token carrying the ChatGPT claims codex-login reads
(plan, account, user, email); ``access_token()`` an access token whose ``exp``
(and ``iat``) you choose, which is what decides when a refresh is due. Both are
signed with ``alg: none``: codex-login reads claims, it does not verify
signatures (the issuer's TLS connection vouches for them).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from codex_login.domain.claims import AUTH_CLAIM
from codex_login.domain.issuer import DEFAULT_CLIENT_ID

__all__ = ["access_token", "b64url", "id_token", "make_jwt"]


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs encode their parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(payload: dict[str, Any]) -> str:
    """An unsigned JWT (``alg: none``) carrying ``payload``."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    return f"{header}.{body}.{b64url(b'sig')}"


def id_token(
    *,
    email: str | None = "user@example.com",
    plan: str | None = "pro",
    account_id: str | None = "acc-123",
    user_id: str = "user-123",
    issuer: str | None = None,
    audience: str = DEFAULT_CLIENT_ID,
    **auth: Any,
) -> str:
    """An ID token as the OpenAI issuer shapes it.

    ``plan`` and ``account_id`` go into the ``https://api.openai.com/auth`` claim
    (None leaves them out), as does every extra keyword (``organization_id``,
    ``is_org_owner``, ...). ``issuer`` sets ``iss``, which binds a stored login to
    the issuer that issued it.
    """
    claims: dict[str, Any] = {"chatgpt_user_id": user_id, **auth}
    if plan is not None:
        claims["chatgpt_plan_type"] = plan
    if account_id is not None:
        claims["chatgpt_account_id"] = account_id
    payload: dict[str, Any] = {"sub": user_id, "aud": [audience], AUTH_CLAIM: claims}
    if issuer is not None:
        payload["iss"] = issuer
    if email is not None:
        payload["email"] = email
    return make_jwt(payload)


def access_token(
    expires_at: datetime | None, *, issued_at: datetime | None = None, **claims: Any
) -> str:
    """An access token expiring at ``expires_at`` (None: no ``exp``, like an opaque token).

    ``issued_at`` sets ``iat``: a short-lived token is refreshed at half its
    lifetime. Extra keywords are added as claims (``jti=...`` makes tokens that
    expire in the same second differ).
    """
    payload: dict[str, Any] = {"sub": "user-123", "aud": "https://api.openai.com/v1", **claims}
    if expires_at is not None:
        payload["exp"] = int(expires_at.timestamp())
    if issued_at is not None:
        payload["iat"] = int(issued_at.timestamp())
    return make_jwt(payload)
