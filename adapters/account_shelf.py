"""Slots for inactive logins, for every kind of store.

File-based kinds (``file``, ``keyring``, ``auto``) keep each account in a
directory ``$CODEX_HOME/accounts/<name>/`` and build the slot's store there, as
they would for a CODEX_HOME: a file slot is ``accounts/<name>/auth.json`` (0600,
with its own ``auth.lock``), a keyring slot is the entry named after that
directory. Redis keeps each account under its own login name.

``accounts/`` and every slot directory are credential directories: made 0700, and
used only when they belong to the user and nobody else can write in them
(``owned_paths``), as CODEX_HOME. They are reached as the file store reaches
CODEX_HOME (``home_access``): by descriptor, or by path on native Windows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters.home_access import for_platform
from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.adapters.owned_paths import Owners, give_to_directory_owner
from codex_login.adapters.store_core import DIR_MODE
from codex_login.domain.errors import StorageError

if TYPE_CHECKING:
    from codex_login.adapters.home_access import HomeAccess
    from codex_login.domain.ports import CredentialStore

ACCOUNTS_DIR = "accounts"


class DirectoryShelf:
    """One directory per account under ``root``; ``make`` builds the store for one.
    ``owners``: whose directories are used (default: the effective uid and root);
    ``access``: how they are reached (default: by descriptor, by path on Windows)."""

    def __init__(
        self,
        root: Path,
        make: Callable[[Path], CredentialStore],
        owners: Owners | None = None,
        *,
        access: HomeAccess | None = None,
    ) -> None:
        self.root = Path(root)
        self._make = make
        self._owners = owners or Owners()
        self._access = access or for_platform()

    def names(self) -> list[str]:
        from codex_login.domain.accounts import NAME_PATTERN  # noqa: PLC0415  (see _check)

        try:
            self._check(self.root.parent)  # CODEX_HOME: whoever can write there can swap accounts/
            handle = self._access.open_directory(self.root, self._owners)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list the accounts in {self.root}: {exc}") from exc
        try:
            entries = list(self._access.scandir(handle))
        finally:
            self._access.close(handle)
        return sorted(e.name for e in entries if NAME_PATTERN.fullmatch(e.name) and e.is_dir())

    def slot(self, name: str) -> CredentialStore:
        directory = self.root / _check(name)
        try:
            # The keyring names an entry after the canonical path: it must exist.
            self.root.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            self._check(self.root.parent)
            for path in (self.root, directory):
                path.mkdir(mode=DIR_MODE, exist_ok=True)
                self._make_private(path)
        except OSError as exc:
            raise StorageError(f"cannot create the account slot {directory}: {exc}") from exc
        return self._make(directory)

    def _check(self, path: Path) -> None:
        self._access.close(self._access.open_directory(path, self._owners))

    def _make_private(self, path: Path) -> None:
        """Check the directory made or found at ``path``, and tighten it when it is ours."""
        handle = self._access.open_directory(path, self._owners)
        try:
            self._access.make_private(handle, DIR_MODE, self._owners)
            # A no-op on Windows, the one platform whose handle is not a descriptor.
            info = self._access.fstat(handle)
            give_to_directory_owner(handle, info, os.stat(path.parent), self._owners)
        finally:
            self._access.close(handle)


class MemoryShelf:
    """Slots in memory, for embedding and tests."""

    def __init__(self) -> None:
        self._slots: dict[str, MemoryCredentialStore] = {}

    def names(self) -> list[str]:
        return sorted(self._slots)

    def slot(self, name: str) -> CredentialStore:
        return self._slots.setdefault(_check(name), MemoryCredentialStore())


def _check(name: str) -> str:
    """A valid slot name. The account rules load only when slots are used: every
    command builds a shelf, and ``token`` must stay quick to start."""
    from codex_login.domain.accounts import check_name  # noqa: PLC0415

    return check_name(name)
