"""Signing in with an OpenAI API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login.application.accounts import AccountBook, commit_login
from codex_login.domain.errors import EmptyApiKey
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.masking import one_line_secret
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord

if TYPE_CHECKING:
    from codex_login.domain.ports import CredentialStore


def validate_api_key(raw: str) -> str:
    """Trim surrounding whitespace; refuse empty keys and keys with inner whitespace."""
    return one_line_secret(raw, what="the API key", one="key", empty=EmptyApiKey)


def login_with_api_key(
    *,
    store: CredentialStore,
    raw_key: str,
    book: AccountBook | None = None,
    login_policy: LoginPolicy | None = None,
) -> str | None:
    """Store the key as an ``apikey`` login; another account that was active goes to its
    slot when there is a ``book`` (its name is returned), else it is replaced.

    Unknown top-level fields another tool wrote are kept; a malformed previous
    file is simply replaced, since the user asked for a new login. As in the
    Codex CLI, an empty key is reported before a disabled method.
    """
    key = validate_api_key(raw_key)
    (login_policy or LoginPolicy()).check_method(LoginMethod.API)

    def record(previous: CredentialRecord | None) -> CredentialRecord:
        kept = dict(previous.extra) if previous else {}
        return CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key=key, extra=kept)

    return commit_login(store, book, record).parked
