"""The credential record: everything auth.json holds."""

from __future__ import annotations

from datetime import datetime

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import StoredMode
from codex_login.domain.tokens import Extras, TokenData


@attrs.frozen(repr=False)
class CredentialRecord(FieldsRepr):
    """One auth.json, field for field, unknown fields included."""

    auth_mode: StoredMode | None = None
    openai_api_key: str | None = attrs.field(default=None, repr=False)
    tokens: TokenData | None = None
    last_refresh: datetime | None = None
    extra: Extras = attrs.field(factory=dict, repr=False, hash=False)


@attrs.frozen(repr=False)
class Loaded(FieldsRepr):
    """A record read from a store, with warnings about fields that were ignored."""

    record: CredentialRecord
    warnings: tuple[str, ...] = ()
