"""Authentication modes."""

from __future__ import annotations

import enum

import attrs

from codex_login.domain.fields_repr import FieldsRepr


class AuthMode(enum.Enum):
    """How requests are authenticated."""

    API_KEY = "apikey"
    CHATGPT = "chatgpt"


@attrs.frozen(repr=False)
class UnsupportedMode(FieldsRepr):
    """An ``auth_mode`` value written by another tool, kept verbatim."""

    name: str


StoredMode = AuthMode | UnsupportedMode

# Each mode in the Codex CLI's words (`codex login status`, `accounts`, `--json`'s kind).
KINDS = {AuthMode.API_KEY: "API key", AuthMode.CHATGPT: "ChatGPT"}
# A ChatGPT login exchanged from a CI identity token, in the same words.
WORKLOAD_IDENTITY = "workload identity"


def parse_mode(value: str) -> StoredMode:
    """Map an ``auth_mode`` string to a known mode or keep it verbatim."""
    try:
        return AuthMode(value)
    except ValueError:
        return UnsupportedMode(value)


def mode_name(mode: StoredMode) -> str:
    """The string written to ``auth_mode``."""
    return mode.value if isinstance(mode, AuthMode) else mode.name
