"""Moving a login between stores: export it from one, import it into another.

A ChatGPT refresh token is single-use: two live copies of one login end each
other's session at the first refresh. ``export_login(move=True)`` hands the
record over and removes it from the source under the source's lock, so no
refresh can happen in between; an import commits under the target's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from codex_login.application.credentials import record_or_none
from codex_login.domain.accounts import identity_of
from codex_login.domain.errors import AnotherLoginStored, ConfigurationError, NotLoggedIn
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.ports import CredentialStore
from codex_login.domain.record import CredentialRecord

if TYPE_CHECKING:
    from codex_login.application.accounts import AccountBook


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


@attrs.frozen(repr=False)
class Imported(FieldsRepr):
    """What an import did: whether it changed the store, and the account the login
    stored before went to, if it was kept."""

    changed: bool
    parked: str | None = None


def import_login(
    *,
    store: CredentialStore,
    record: CredentialRecord,
    replace: bool,
    book: AccountBook | None = None,
) -> Imported:
    """Commit ``record`` to ``store``, as ``login`` would: a login of another account
    stored before is kept as an inactive account of ``book``.

    Where that cannot be done (no book, the same account, a slot holding the imported
    account already) a different login stored is kept unless ``replace``: importing over
    it would discard it without a revoke.
    """
    if record.tokens is None and not record.openai_api_key:
        raise ConfigurationError("the imported record holds neither tokens nor an API key")
    with store.exclusive():
        existing = record_or_none(store)
        if existing == record:
            return Imported(changed=False)
        parked = None
        if existing is not None:
            if book is not None and _parkable(existing, record, book):
                parked = book.park(existing)
            elif not replace:
                raise AnotherLoginStored(f"{store.location} already holds another login")
        store.save(record)
    return Imported(changed=True, parked=parked)


def _parkable(existing: CredentialRecord, record: CredentialRecord, book: AccountBook) -> bool:
    """Whether ``existing`` can step aside for ``record`` as an account of ``book``."""
    return identity_of(existing) != identity_of(record) and not book.keeps(record)
