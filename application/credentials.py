"""Loading the credential to use, with the seed's fallback to the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login.domain.errors import CodexLoginError
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.domain.resolution import ApiKeyAuth, ResolvedAuth, resolve

if TYPE_CHECKING:
    from codex_login.domain.ports import CredentialStore


def resolve_loaded(
    loaded: Loaded | None,
    *,
    location: str,
    env_api_key: str | None,
    preferred: AuthMode,
) -> ResolvedAuth | None:
    """A stored record decides; only when nothing is stored does the env key count.

    A stored but malformed record raises: falling back to the environment
    would silently switch a ChatGPT user to an API key.
    """
    if loaded is None:
        return ApiKeyAuth(env_api_key) if env_api_key else None
    return resolve(loaded.record, preferred, location=location)


def load_credentials(
    *, store: CredentialStore, env_api_key: str | None, preferred: AuthMode
) -> ResolvedAuth | None:
    return resolve_loaded(
        store.load(), location=store.location, env_api_key=env_api_key, preferred=preferred
    )


def record_or_none(store: CredentialStore) -> CredentialRecord | None:
    """The stored record, or None when there is none or it cannot be read.

    For writers about to replace it (a login, a logout): a malformed record is
    simply replaced, never a reason to refuse.
    """
    try:
        loaded = store.load()
    except CodexLoginError:
        return None
    return loaded.record if loaded else None
