"""OAuth tokens as stored and as returned by the token endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from codex_login.domain.claims import IdToken
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode

# Unknown JSON fields written by other tools, kept so that a rewrite loses nothing.
Extras = Mapping[str, object]


@attrs.frozen(repr=False)
class Provenance(FieldsRepr):
    """Which issuer and client issued a login's tokens (``tokens.oauth_provenance``)."""

    issuer: str
    client_id: str


@attrs.frozen(repr=False)
class TokenData(FieldsRepr):
    """The ``tokens`` object of auth.json."""

    id_token: IdToken
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    account_id: str | None = None
    provenance: Provenance | None = None
    extra: Extras = attrs.field(factory=dict, repr=False, hash=False)


@attrs.frozen(repr=False)
class TokenGrant(FieldsRepr):
    """What a token endpoint returned; every field may be missing on refresh."""

    id_token: str | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(repr=False)
class AccessToken(FieldsRepr):
    """The credential to send: an API key or a ChatGPT access token, with its expiry."""

    mode: AuthMode
    token: str = attrs.field(repr=False)
    expires_at: datetime | None = None
    account_id: str | None = None

    @property
    def authorization(self) -> str:
        """The value of the HTTP ``Authorization`` header."""
        return f"Bearer {self.token}"
