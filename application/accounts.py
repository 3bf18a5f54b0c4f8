"""Several logins, one active: list them, switch, and keep the previous one on a new login.

The active login stays in the active store (auth.json), so the Codex CLI always
sees it; the others wait in slots. Locks are always taken in one order — the
active store's, then a slot's — so switches, logins and refreshes of either never
deadlock. Each move copies first and removes last: a crash leaves a duplicate,
never a lost login.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from codex_login.application.credentials import record_or_none
from codex_login.domain.accounts import (
    Account,
    Identity,
    describe,
    identity_of,
    name_for,
    select,
)
from codex_login.domain.errors import (
    AccountNotFound,
    CodexLoginError,
    MalformedCredentials,
    UnreadableAccount,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.ports import AccountShelf, CredentialStore
from codex_login.domain.record import CredentialRecord


@attrs.frozen(kw_only=True, repr=False)
class AccountBook(FieldsRepr):
    """The active store and the shelf of inactive logins beside it."""

    store: CredentialStore
    shelf: AccountShelf

    def accounts(self, *, strict: bool = True) -> list[Account]:
        """Every stored login, the active one marked; sorted by name.

        ``strict``: a record that cannot be read (a malformed auth.json, active or in a
        slot) raises, so a listing never shows it as no login at all; a switch, which
        replaces the active one, lists without them."""
        parked = self._parked(strict=strict)
        active = _active(self.store) if strict else record_or_none(self.store)
        found = [describe(name, record) for name, record in parked.items()]
        if active is not None:
            name = name_for(active, {n: identity_of(r) for n, r in parked.items()})
            found = [a for a in found if a.name != name]
            found.append(describe(name, active, active=True))
        return sorted(found, key=lambda account: account.name)

    def names(self) -> list[str]:
        """Every stored login's name, sorted; a slot that cannot be read is named too
        (its logout removes it). The records are read (the active login's name depends
        on the others'), but only the names are given."""
        listed = {account.name for account in self.accounts(strict=False)}
        return sorted(listed | set(self.shelf.names()))

    def find(self, wanted: str) -> Account:
        """The account ``wanted`` names; a slot of that name that cannot be read raises
        its own error rather than "no account"."""
        if wanted in self.shelf.names():
            _slot_record(wanted, self.shelf.slot(wanted))  # read once: raises when unreadable
        return select(self.accounts(strict=False), wanted)

    def unreadable_slot(self, name: str) -> CredentialStore | None:
        """The slot ``name`` when it holds a record that cannot be read, else None."""
        if name not in self.shelf.names():
            return None
        slot = self.shelf.slot(name)
        try:
            slot.load()
        except CodexLoginError:
            return slot
        return None

    def store_of(self, account: Account) -> CredentialStore:
        """Where ``account`` lives: the active store, or its slot."""
        return self.store if account.active else self.shelf.slot(account.name)

    def switch(
        self, wanted: str, *, accept: Callable[[CredentialRecord], None] | None = None
    ) -> Account:
        """Make ``wanted`` the active login; the active one goes back to its slot first,
        with its latest (possibly rotated) tokens. ``accept`` may refuse the chosen record
        (by raising) before anything moves."""
        target = self.find(wanted)
        if target.active:
            return target
        with self.store.exclusive():
            slot = self.shelf.slot(target.name)
            with slot.exclusive():
                chosen = record_or_none(slot)
                if chosen is None:
                    raise AccountNotFound(f"the account {target.name!r} was removed meanwhile")
                if accept is not None:
                    accept(chosen)
                current = record_or_none(self.store)
                if current is not None:
                    self.park(current)
                self.store.save(chosen)
                slot.delete()
        return attrs.evolve(target, active=True)

    def park(self, record: CredentialRecord) -> str:
        """Keep ``record`` in its slot (the one holding the same account, else a new one).

        Called with the active store's lock held."""
        taken = self._taken()
        name = name_for(record, taken)
        self.shelf.slot(name).save(record)
        return name

    def take_back(self, record: CredentialRecord) -> CredentialRecord | None:
        """Remove the slot holding ``record``'s account (it becomes active): its copy is
        older. Returns what the slot held. Called with the active store's lock held."""
        identity = identity_of(record)
        for name, other in self._taken().items():
            if other == identity:
                slot = self.shelf.slot(name)
                with slot.exclusive():
                    held = record_or_none(slot)
                    slot.delete()
                return held
        return None

    def _parked(self, *, strict: bool = False) -> dict[str, CredentialRecord]:
        parked = {}
        for name in self.shelf.names():
            slot = self.shelf.slot(name)
            record = _slot_record(name, slot) if strict else record_or_none(slot)
            if record is not None:
                parked[name] = record
        return parked

    def keeps(self, record: CredentialRecord) -> bool:
        """Whether a slot holds ``record``'s account."""
        return identity_of(record) in self._taken().values()

    def _taken(self) -> dict[str, Identity]:
        return {name: identity_of(record) for name, record in self._parked().items()}


def _active(store: CredentialStore) -> CredentialRecord | None:
    loaded = store.load()
    return loaded.record if loaded else None


def _slot_record(name: str, slot: CredentialStore) -> CredentialRecord | None:
    """The record in account ``name``'s slot; one that cannot be read names the account."""
    try:
        return _active(slot)
    except UnreadableAccount:
        raise
    except MalformedCredentials as exc:
        raise UnreadableAccount(name, exc.location, exc.problem) from exc


@attrs.frozen(repr=False)
class Committed(FieldsRepr):
    """What a login's commit did besides storing it: the older logins of the same
    account it replaced (the caller may revoke them), and the slot name the previous,
    other account was parked under (the person should hear it), if any."""

    replaced: list[CredentialRecord] = attrs.field(repr=False)
    parked: str | None = None


def commit_login(
    store: CredentialStore,
    book: AccountBook | None,
    make: Callable[[CredentialRecord | None], CredentialRecord],
) -> Committed:
    """Store a new active login made by ``make(previous)``, under the lock.

    Another account that was active goes to its slot; older logins of the same
    account (the previous active record, a slot) are returned: the caller may
    revoke them. Without a book, the previous record is simply replaced.
    """
    with store.exclusive():
        previous = record_or_none(store)
        record = make(previous)
        replaced, parked = [], None
        if previous is not None:
            if book is not None and identity_of(previous) != identity_of(record):
                parked = book.park(previous)
            else:
                replaced.append(previous)
        held = book.take_back(record) if book is not None else None
        if held is not None:
            replaced.append(held)
        store.save(record)
    return Committed(replaced, parked)
