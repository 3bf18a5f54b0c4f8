"""What a completed ChatGPT login writes."""

from __future__ import annotations

from datetime import datetime

import attrs

from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import InvalidJwt, TokenEndpointError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode
from codex_login.domain.plans import should_use_api_key
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData, TokenGrant


@attrs.frozen(repr=False)
class AuthorizationRequest(FieldsRepr):
    """One browser login's authorization URL and the secrets that go with it."""

    url: str
    redirect_uri: str
    state: str = attrs.field(repr=False)
    verifier: str = attrs.field(repr=False)
    # The issuer's metadata promises ``iss`` on its authorization responses (RFC 9207).
    iss_advertised: bool = False


def mode_for_new_login(tokens: TokenData, api_key: str | None) -> AuthMode:
    """The auth_mode a browser login writes, so every tool agrees afterwards.

    The plan policy decides, but ``apikey`` only when the exchange gave a key:
    a record naming ``apikey`` without one would be unusable.
    """
    if api_key and should_use_api_key(AuthMode.CHATGPT, tokens.id_token.plan):
        return AuthMode.API_KEY
    return AuthMode.CHATGPT


def tokens_from_grant(grant: TokenGrant) -> TokenData:
    """The tokens of a code exchange; all three must be there, the id_token a JWT."""
    raw_id, access, refresh = grant.id_token, grant.access_token, grant.refresh_token
    if not raw_id or not access or not refresh:
        fields = {"id_token": raw_id, "access_token": access, "refresh_token": refresh}
        missing = ", ".join(name for name, value in fields.items() if not value)
        raise TokenEndpointError(f"the issuer's answer lacks {missing}")
    try:
        id_token = parse_id_token(raw_id)
    except InvalidJwt as exc:
        raise TokenEndpointError(f"the issuer's id_token is not a JWT ({exc})") from exc
    return TokenData(
        id_token=id_token,
        access_token=access,
        refresh_token=refresh,
        account_id=id_token.account_id,
    )


def login_record(
    tokens: TokenData,
    api_key: str | None,
    now: datetime,
    previous: CredentialRecord | None,
) -> CredentialRecord:
    """The record a new login writes; unknown fields of the previous one are kept."""
    kept_top = previous.extra if previous else {}
    kept_tokens = previous.tokens.extra if previous and previous.tokens else {}
    return CredentialRecord(
        auth_mode=mode_for_new_login(tokens, api_key),
        openai_api_key=api_key,
        tokens=attrs.evolve(tokens, extra=dict(kept_tokens)),
        last_refresh=now,
        extra=dict(kept_top),
    )
