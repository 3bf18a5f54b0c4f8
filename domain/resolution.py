"""Which credential a record yields: the API key or the ChatGPT tokens."""

from __future__ import annotations

import attrs

from codex_login.domain.access_tokens import stored_access_token
from codex_login.domain.errors import MalformedCredentials, SignsRequests, UnsupportedAuthMode
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.foreign import KINDS, SIGNING_MODES
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.plans import should_use_api_key
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData


@attrs.frozen(repr=False)
class ApiKeyAuth(FieldsRepr):
    api_key: str = attrs.field(repr=False)
    mode: AuthMode = attrs.field(default=AuthMode.API_KEY, init=False)


@attrs.frozen(repr=False)
class ChatGptAuth(FieldsRepr):
    tokens: TokenData
    mode: AuthMode = attrs.field(default=AuthMode.CHATGPT, init=False)


@attrs.frozen(repr=False)
class AccessTokenAuth(FieldsRepr):
    """An access token (``at-…``): a bearer for the ChatGPT model API, never refreshed; its
    workspace comes from whoami (``domain/access_tokens.py``)."""

    token: str = attrs.field(repr=False)
    mode: AuthMode = attrs.field(default=AuthMode.CHATGPT, init=False)


ResolvedAuth = ApiKeyAuth | ChatGptAuth | AccessTokenAuth


def resolve(
    record: CredentialRecord, preferred: AuthMode, *, location: str = "auth.json"
) -> ResolvedAuth | None:
    """Resolve a record to a credential; None means not logged in.

    With both tokens and a key: a preferred ``apikey`` picks the key, else an
    explicit ``auth_mode`` decides, else the plan policy.
    """
    access_token = stored_access_token(record)
    if access_token is not None:  # Codex: no auth_mode and a personal_access_token
        return AccessTokenAuth(access_token)
    return _resolve_mode(record, preferred, location)


def _resolve_mode(
    record: CredentialRecord, preferred: AuthMode, location: str
) -> ResolvedAuth | None:
    # An empty key is no key: handing out "" as a bearer would only fail later.
    mode, key, tokens = record.auth_mode, record.openai_api_key or None, record.tokens
    if isinstance(mode, UnsupportedMode):
        if mode.name in SIGNING_MODES:
            raise SignsRequests(mode.name, KINDS[mode.name])
        raise UnsupportedAuthMode(mode.name)
    if mode is AuthMode.API_KEY and key is None:
        raise MalformedCredentials(
            location, 'auth_mode is "apikey" but OPENAI_API_KEY is null or empty'
        )
    if tokens is None:
        return ApiKeyAuth(key) if key is not None else None
    if key is None:
        return ChatGptAuth(tokens)
    if preferred is AuthMode.API_KEY or mode is AuthMode.API_KEY:
        return ApiKeyAuth(key)
    if mode is AuthMode.CHATGPT:
        return ChatGptAuth(tokens)
    if should_use_api_key(preferred, tokens.id_token.plan):
        return ApiKeyAuth(key)
    return ChatGptAuth(tokens)
