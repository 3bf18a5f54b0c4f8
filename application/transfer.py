"""Moving a login between stores: export it from one, import it into another.

A ChatGPT refresh token is single-use: two live copies of one login end each
other's session at the first refresh. ``export_login(move=True)`` hands the
record over and removes it from the source under the source's lock, so no
refresh can happen in between; an import commits under the target's lock.
"""

from __future__ import annotations

from collections.abc import Callable

from codex_login.application.credentials import record_or_none
from codex_login.domain.errors import AnotherLoginStored, ConfigurationError, NotLoggedIn
from codex_login.domain.ports import CredentialStore
from codex_login.domain.record import CredentialRecord


def export_login(
    *,
    store: CredentialStore,
    hand_over: Callable[[CredentialRecord], None],
    move: bool,
) -> CredentialRecord:
    """Give the stored record to ``hand_over``; with ``move``, then remove it from ``store``.

    A malformed record raises (nothing is handed over); a failed hand-over
    leaves the source as it was. Nothing stored is said before the lock is taken: a
    read-only command creates no lock file (nor the directory that would hold it).
    """
    if store.load() is None:
        raise _nothing_to_export(store)
    with store.exclusive():
        loaded = store.load()
        if loaded is None:
            raise _nothing_to_export(store)
        hand_over(loaded.record)
        if move:
            store.delete()
    return loaded.record


def _nothing_to_export(store: CredentialStore) -> NotLoggedIn:
    return NotLoggedIn(f"nothing to export: no login is stored in {store.location}")


def import_login(*, store: CredentialStore, record: CredentialRecord, replace: bool) -> bool:
    """Commit ``record`` to ``store``; False when it already held exactly this login.

    A different login already stored is kept unless ``replace``: importing over it
    would discard it without a revoke.
    """
    if record.tokens is None and not record.openai_api_key:
        raise ConfigurationError("the imported record holds neither tokens nor an API key")
    with store.exclusive():
        existing = record_or_none(store)
        if existing == record:
            return False
        if existing is not None and not replace:
            raise AnotherLoginStored(f"{store.location} already holds another login")
        store.save(record)
    return True
