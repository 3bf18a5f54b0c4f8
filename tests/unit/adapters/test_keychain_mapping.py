"""The keyring store's entry, as the macOS Keychain item the Codex CLI writes."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from codex_login.adapters import keyring_store
from codex_login.adapters.keychain import GENERIC_PASSWORD, KeychainItem, keychain_item
from codex_login.adapters.keyring_store import KeyringCredentialStore
from support.keyring_backends import MemoryKeyring
from support.records import chatgpt_record


class KeychainRecorder(MemoryKeyring):
    """Records each ``set_password`` as the Keychain item the macOS backend would add."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[KeychainItem] = []

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password)
        self.items.append(keychain_item(service, username, password))


def test_a_save_is_one_generic_password_with_codexs_service_account_and_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    recorder = KeychainRecorder()
    store = KeyringCredentialStore(tmp_path, backend=recorder)
    store.save(chatgpt_record())
    (item,) = recorder.items
    home_digest = hashlib.sha256(str(tmp_path.resolve()).encode()).hexdigest()[:16]
    assert item.item_class == GENERIC_PASSWORD
    assert item.service == "Codex Auth"
    assert item.account == f"cli|{home_digest}"
    loaded = store.load()
    assert loaded is not None
    assert item.data == recorder.entries[("Codex Auth", item.account)].encode("utf-8")
    assert b"\n" not in item.data  # compact JSON, as Codex writes it


def test_on_macos_there_is_no_secret_service_to_explain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keyring_store.secret_service_problem() == ""


def test_the_item_data_is_the_values_utf8() -> None:
    item = keychain_item("Codex Auth", "cli|0123456789abcdef", '{"é":1}')
    assert item.data == '{"é":1}'.encode()
    assert "é" not in repr(item)  # the data is a secret: never in a repr
