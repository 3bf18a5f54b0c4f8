"""Every store codex-login ships passes the store contract it ships for others."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.keyring_store import KeyringCredentialStore
from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.testing.contract import CredentialStoreContract, StoreFactory
from support.keyring_backends import FileKeyring


class TestFileCredentialStore(CredentialStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: FileCredentialStore(tmp_path / "codex-home")


class TestMemoryCredentialStore(CredentialStoreContract):
    shared_across_processes = False

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        store = MemoryCredentialStore()
        return lambda: store


class TestKeyringCredentialStore(CredentialStoreContract):
    """On a real keyring backend kept in a file, so that other processes share it."""

    fingerprint_is_a_digest = True  # the entry is the record: nothing else marks a write

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        home, entries = tmp_path / "codex-home", tmp_path / "keyring.json"
        return lambda: KeyringCredentialStore(home, backend=FileKeyring(entries))
