"""Keyring backends for tests: one in memory, one in a JSON file that child processes share.

Child processes select the file one with
``PYTHON_KEYRING_BACKEND=support.keyring_backends.FileKeyring`` and
``TEST_KEYRING_FILE=<path>`` (and ``tests`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}
        self.broken = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.broken:
            raise KeyringError("the keyring is locked")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.broken:
            raise KeyringError("the keyring is locked")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


class FileKeyring(KeyringBackend):
    """Entries in a JSON file, replaced atomically as a real keyring updates them.

    ``path`` defaults to ``$TEST_KEYRING_FILE`` (how a child process selects it).
    """

    priority = 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring leaves it unannotated
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or Path(os.environ["TEST_KEYRING_FILE"])

    def _write(self, entries: dict[str, str]) -> None:
        # A reader must see the old entries or the new ones, never a half-written file.
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        temp.write_text(json.dumps(entries))
        os.replace(temp, self.path)

    def _entries(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        entries: dict[str, str] = json.loads(self.path.read_text())
        return entries

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}|{username}"] = password
        self._write(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError("no such entry")
        self._write(entries)
