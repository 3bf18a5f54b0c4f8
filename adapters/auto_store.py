"""``auto``: the OS keyring first, auth.json when the keyring fails or holds nothing.

The Codex CLI's ``auto`` rules: read the keyring, fall back to the file on a keyring
error or a missing entry; save to the keyring (which deletes auth.json), and to the
file when the keyring fails. Codex falls back silently; this store tells ``notify``
each time it does, and ``location`` names the store the last read or write used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.keyring_store import KEYRING_FAILED
from codex_login.domain.errors import StorageError
from codex_login.domain.ports import CredentialStore
from codex_login.domain.record import CredentialRecord, Loaded


class AutoCredentialStore:
    """``keyring`` must take the locks of ``files`` (built with ``files=files``)."""

    def __init__(
        self,
        keyring: CredentialStore,
        files: FileCredentialStore,
        *,
        notify: Callable[[str], None],
    ) -> None:
        self._keyring = keyring
        self._files = files
        self._notify = notify
        self._used: CredentialStore = keyring
        self._told = False

    @property
    def location(self) -> str:
        return self._used.location

    def load(self) -> Loaded | None:
        try:
            loaded = self._keyring.load()
        except StorageError as exc:
            self._fell_back(exc)
        else:
            if loaded is not None:
                self._used = self._keyring
                return loaded
        loaded = self._files.load()
        if loaded is not None:
            self._used = self._files
        return loaded

    def save(self, record: CredentialRecord) -> None:
        with self.exclusive():
            try:
                self._keyring.save(record)  # deletes auth.json
            except StorageError as exc:
                self._fell_back(exc)
                self._files.save(record)
                self._used = self._files
            else:
                self._used = self._keyring

    def delete(self) -> bool:
        """Log out of both: the keyring (its delete removes auth.json too) and the file."""
        with self.exclusive():
            try:
                removed = self._keyring.delete()
            except StorageError as exc:
                self._fell_back(exc)
                removed = False
            return self._files.delete() or removed

    def fingerprint(self) -> Hashable:
        try:
            keyring: Hashable = self._keyring.fingerprint()
        except StorageError as exc:
            keyring = ("failed", str(exc))
        return (keyring, self._files.fingerprint())

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return self._files.exclusive()

    def _fell_back(self, exc: StorageError) -> None:
        """Say so, once per store: a long-lived process would otherwise repeat it."""
        if not self._told:
            self._told = True
            # The keyring's own errors begin with what failed: said once here.
            reason = str(exc).removeprefix(f"{KEYRING_FAILED}: ").rstrip(".")
            self._notify(f"The OS keyring failed ({reason}); using {self._files.location} instead")
