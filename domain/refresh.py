"""What a successful refresh writes, and what counts as a usable refresh answer."""

from __future__ import annotations

from datetime import datetime

import attrs

from codex_login.domain.claims import parse_id_token, token_expiry
from codex_login.domain.errors import InvalidJwt, TokenEndpointError
from codex_login.domain.jwt import decode_payload
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData, TokenGrant


def refreshed_record(
    record: CredentialRecord, grant: TokenGrant, now: datetime
) -> CredentialRecord:
    """Replace the tokens the issuer returned; keep everything else, unknown fields included.

    The answer must carry an access token; a JWT access token must carry ``exp``
    (an opaque one falls back to the age rule); an ID token, when sent, must be a JWT.
    """
    tokens = record.tokens
    if tokens is None:
        raise TokenEndpointError("there are no ChatGPT tokens to refresh")
    try:
        if not grant.access_token:
            raise TokenEndpointError(
                "the refresh answer has no access_token (missing, empty or not a string)"
            )
        _check_access_token(grant.access_token)
        updated = attrs.evolve(tokens, access_token=grant.access_token)
        if grant.id_token:
            updated = _with_id_token(updated, grant.id_token)
    except TokenEndpointError as exc:
        if not grant.refresh_token:
            raise
        raise TokenEndpointError(
            f"{exc}; the stored login is unchanged, but the issuer also sent a new refresh "
            "token, so the stored one may be spent"
        ) from exc
    if grant.refresh_token:
        updated = attrs.evolve(updated, refresh_token=grant.refresh_token)
    return attrs.evolve(record, tokens=updated, last_refresh=now)


def _check_access_token(token: str) -> None:
    try:
        decode_payload(token)
    except InvalidJwt:
        return  # opaque: its expiry is judged by age
    if token_expiry(token) is None:
        raise TokenEndpointError("the refreshed access token is a JWT without a usable exp claim")


def _with_id_token(tokens: TokenData, raw: str) -> TokenData:
    try:
        id_token = parse_id_token(raw)
    except InvalidJwt as exc:
        raise TokenEndpointError(f"the refreshed id_token is not a JWT ({exc})") from exc
    return attrs.evolve(
        tokens, id_token=id_token, account_id=tokens.account_id or id_token.account_id
    )
