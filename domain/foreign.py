"""Logins the Codex CLI writes that codex-login can describe but not use.

Newer Codex releases store other kinds of login in auth.json (an agent's access
token, a personal access token, a Bedrock key…). They are kept byte for byte and
never rewritten; ``status`` names them and ``token`` explains why it has nothing
to hand out.
"""

from __future__ import annotations

import attrs

from codex_login.domain.access_tokens import stored_access_token
from codex_login.domain.errors import InvalidJwt
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.jwt import decode_payload
from codex_login.domain.modes import UnsupportedMode
from codex_login.domain.record import CredentialRecord

AGENT_IDENTITY = "agentIdentity"

# What the Codex CLI calls each kind in `codex login status` ("Logged in using …").
KINDS = {
    AGENT_IDENTITY: "access token",
    "personalAccessToken": "personal access token",
    "chatgptAuthTokens": "ChatGPT tokens managed by an app",
    "bedrockApiKey": "an Amazon Bedrock key",
}

# Logins that sign each request with a key of their own: there is no bearer to send.
SIGNING_MODES = frozenset({AGENT_IDENTITY})


@attrs.frozen(repr=False)
class ForeignLogin(FieldsRepr):
    """A login of a kind codex-login does not use, described without secrets."""

    mode: str
    email: str | None = None
    plan: str | None = None
    account_id: str | None = None

    @property
    def known(self) -> bool:
        return self.mode in KINDS

    @property
    def title(self) -> str:
        """``access token``, or the raw auth_mode of a kind unknown to this version."""
        return KINDS.get(self.mode, f'auth_mode "{self.mode}"')

    @property
    def signs_requests(self) -> bool:
        return self.mode in SIGNING_MODES


def describe_foreign(record: CredentialRecord) -> ForeignLogin | None:
    """The record's foreign login, or None when it is one codex-login uses."""
    mode = record.auth_mode
    if not isinstance(mode, UnsupportedMode) or stored_access_token(record) is not None:
        return None  # an access token (personalAccessToken) is one codex-login uses
    if mode.name == AGENT_IDENTITY:
        return _agent_identity(record)
    return ForeignLogin(mode.name)


def _agent_identity(record: CredentialRecord) -> ForeignLogin:
    """Who the agent acts for, from its JWT's payload when it can be read (best effort:
    a login we only describe is never called malformed)."""
    jwt = record.extra.get("agent_identity")
    claims: dict[str, object] = {}
    if isinstance(jwt, str):
        try:
            claims = decode_payload(jwt)
        except InvalidJwt:
            claims = {}
    return ForeignLogin(
        AGENT_IDENTITY,
        email=_text(claims.get("email")),
        plan=_text(claims.get("plan_type")),
        account_id=_text(claims.get("account_id")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
