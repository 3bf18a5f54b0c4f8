"""Credentials held in memory: for embedding and for tests."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Hashable, Iterator

from codex_login.domain.record import CredentialRecord, Loaded


class MemoryCredentialStore:
    """A store that lives as long as the object; ``saved`` records every write."""

    def __init__(self, record: CredentialRecord | None = None) -> None:
        self._record = record
        self._lock = threading.RLock()
        self._versions = itertools.count(1)
        self._version = 0
        self.saved: list[CredentialRecord] = []

    @property
    def location(self) -> str:
        return "memory"

    def load(self) -> Loaded | None:
        record = self._record
        return None if record is None else Loaded(record)

    def save(self, record: CredentialRecord) -> None:
        with self._lock:
            self._record = record
            self._version = next(self._versions)
            self.saved.append(record)

    def delete(self) -> bool:
        with self._lock:
            existed = self._record is not None
            self._record = None
            self._version = next(self._versions)
            return existed

    def fingerprint(self) -> Hashable:
        return self._version

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._lock:
            yield
