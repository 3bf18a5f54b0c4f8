"""Every store codex-login ships passes the store contract it ships for others."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.home_access import Paths
from codex_login.adapters.keyring_store import KeyringCredentialStore
from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.testing.contract import CredentialStoreContract, StoreFactory
from support.keyring_backends import FileKeyring
from support.secret_service import SecretService


class TestFileCredentialStore(CredentialStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: FileCredentialStore(tmp_path / "codex-home")


class TestFileCredentialStoreByPath(CredentialStoreContract):
    """The path variant native Windows takes (home_access.Paths: no directory
    descriptor, no dir_fd), forced here on Linux, with flock: real files, real processes."""

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: FileCredentialStore(tmp_path / "codex-home", access=Paths())


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


class TestKeyringOnTheSecretService(CredentialStoreContract):
    """The direct layout on a real gnome-keyring-daemon, over a private D-Bus."""

    fingerprint_is_a_digest = True

    @pytest.fixture
    def make_store(self, tmp_path: Path, secret_service: SecretService) -> StoreFactory:
        return lambda: KeyringCredentialStore(tmp_path / "codex-home", backend=CodexSecretService())


@pytest.mark.slow
class TestEncryptedCredentialStore(CredentialStoreContract):
    """The encrypted layout on a real gnome-keyring-daemon: every write is an age
    encryption at Codex's scrypt work factor (about a second), every cold read a
    decryption, so the concurrency tests run small."""

    threads = 2
    processes = 2
    increments = 1

    @pytest.fixture
    def make_store(self, tmp_path: Path, secret_service: SecretService) -> StoreFactory:
        home = tmp_path / "codex-home"
        return lambda: EncryptedCredentialStore(home, backend=CodexSecretService())
