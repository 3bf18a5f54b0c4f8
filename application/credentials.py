"""Reading the stored record for writers about to replace it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login.domain.errors import CodexLoginError
from codex_login.domain.record import CredentialRecord

if TYPE_CHECKING:
    from codex_login.domain.ports import CredentialStore


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
