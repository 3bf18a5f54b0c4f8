"""Slots for inactive logins, for every kind of store.

File-based kinds (``file``, ``keyring``, ``auto``) keep each account in a
directory ``$CODEX_HOME/accounts/<name>/`` and build the slot's store there, as
they would for a CODEX_HOME: a file slot is ``accounts/<name>/auth.json`` (0600,
with its own ``auth.lock``), a keyring slot is the entry named after that
directory. Redis keeps each account under its own login name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.domain.errors import StorageError

if TYPE_CHECKING:
    from codex_login.domain.ports import CredentialStore

ACCOUNTS_DIR = "accounts"
DIR_MODE = 0o700


class DirectoryShelf:
    """One directory per account under ``root``; ``make`` builds the store for one."""

    def __init__(self, root: Path, make: Callable[[Path], CredentialStore]) -> None:
        self.root = Path(root)
        self._make = make

    def names(self) -> list[str]:
        from codex_login.domain.accounts import NAME_PATTERN  # noqa: PLC0415  (see _check)

        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list the accounts in {self.root}: {exc}") from exc
        return sorted(e.name for e in entries if NAME_PATTERN.fullmatch(e.name) and e.is_dir())

    def slot(self, name: str) -> CredentialStore:
        directory = self.root / _check(name)
        try:
            # The keyring names an entry after the canonical path: it must exist.
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the account slot {directory}: {exc}") from exc
        return self._make(directory)


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
