"""Claims read from ID and access tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from codex_login.domain.errors import InvalidJwt
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.jwt import decode_payload
from codex_login.domain.plans import Plan, parse_plan

AUTH_CLAIM = "https://api.openai.com/auth"


@attrs.frozen(repr=False)
class IdToken(FieldsRepr):
    """An ID token: the raw JWT and the claims codex-login uses."""

    raw: str = attrs.field(repr=False)
    email: str | None = None
    plan: Plan | None = None
    account_id: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    project_id: str | None = None
    completed_platform_onboarding: bool = False
    is_org_owner: bool = False
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    authorized_party: str | None = None

    @property
    def needs_setup(self) -> bool:
        """An org owner who has not finished platform onboarding."""
        return self.is_org_owner and not self.completed_platform_onboarding


def parse_id_token(raw: str) -> IdToken:
    """Read the claims of an ID token; raises ``InvalidJwt`` if it is not a JWT.

    Claims of the wrong type are treated as absent: they are informational.
    """
    payload = decode_payload(raw)
    auth = payload.get(AUTH_CLAIM)
    auth_claims: dict[str, object] = auth if isinstance(auth, dict) else {}
    plan = _string(auth_claims, "chatgpt_plan_type")
    return IdToken(
        raw=raw,
        email=_string(payload, "email"),
        plan=parse_plan(plan) if plan is not None else None,
        account_id=_string(auth_claims, "chatgpt_account_id"),
        user_id=_string(auth_claims, "chatgpt_user_id") or _string(auth_claims, "user_id"),
        organization_id=_string(auth_claims, "organization_id"),
        project_id=_string(auth_claims, "project_id"),
        completed_platform_onboarding=auth_claims.get("completed_platform_onboarding") is True,
        is_org_owner=auth_claims.get("is_org_owner") is True,
        issuer=_string(payload, "iss"),
        audience=_audience(payload.get("aud")),
        authorized_party=_string(payload, "azp"),
    )


def _audience(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` of a JWT access token, or None when it cannot be read."""
    return token_times(token)[1]


def token_times(token: str) -> tuple[datetime | None, datetime | None]:
    """The ``iat`` and ``exp`` of a JWT access token, each None when it cannot be read."""
    try:
        payload = decode_payload(token)
    except InvalidJwt:
        return None, None
    return _moment(payload.get("iat")), _moment(payload.get("exp"))


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _string(claims: dict[str, object], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None
