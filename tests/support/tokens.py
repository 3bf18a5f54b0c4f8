"""Unsigned JWTs shaped like the issuer's, for tests."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from codex_login.domain.claims import AUTH_CLAIM


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(payload: dict[str, Any]) -> str:
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
    audience: str = "app_EMoamEEZ73f0CkXaXp7hrann",
    **auth: Any,
) -> str:
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


def access_token(expires_at: datetime | None, *, issued_at: datetime | None = None) -> str:
    payload: dict[str, Any] = {"sub": "user-123", "aud": "https://api.openai.com/v1"}
    if expires_at is not None:
        payload["exp"] = int(expires_at.timestamp())
    if issued_at is not None:
        payload["iat"] = int(issued_at.timestamp())
    return make_jwt(payload)
