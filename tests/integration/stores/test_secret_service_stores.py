"""The keyring stores on a real Secret Service (gnome-keyring-daemon on a private D-Bus).

The byte-for-byte comparison with what the Codex CLI writes is in
tests/interop/test_codex_keyring.py; here are the rules both tools follow.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pyrage
import pytest
from keyring.backends import SecretService as PythonSecretService

from codex_login.adapters.encrypted_store import (
    AUTH_KEY,
    SERVICE,
    EncryptedCredentialStore,
    secrets_account,
)
from codex_login.adapters.keyring_store import SERVICE as DIRECT_SERVICE
from codex_login.adapters.keyring_store import KeyringCredentialStore, keyring_account
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.domain.errors import StorageError
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.cli import clean_env, run_cli
from support.records import chatgpt_record
from support.secret_service import SecretService, item_attributes, item_secret

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-123456789")


def direct_store(home: Path) -> KeyringCredentialStore:
    return KeyringCredentialStore(home, backend=CodexSecretService())


def encrypted_store(home: Path) -> EncryptedCredentialStore:
    return EncryptedCredentialStore(home, backend=CodexSecretService())


def write_auth_json(home: Path, key: str) -> None:
    home.mkdir(exist_ok=True)
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": key}))


# -- the direct layout ----------------------------------------------------------------


def test_a_keyring_save_deletes_auth_json(tmp_path: Path, secret_service: SecretService) -> None:
    write_auth_json(tmp_path, "sk-file-123456789")
    direct_store(tmp_path).save(API_KEY_RECORD)
    assert not (tmp_path / "auth.json").exists()
    secret = item_secret(secret_service.address, DIRECT_SERVICE, keyring_account(tmp_path))
    assert secret == b'{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test-123456789"}'


def test_keyring_mode_ignores_auth_json(tmp_path: Path, secret_service: SecretService) -> None:
    write_auth_json(tmp_path, "sk-file-123456789")
    assert direct_store(tmp_path).load() is None


def test_logout_removes_the_entry_and_the_file(
    tmp_path: Path, secret_service: SecretService
) -> None:
    store = direct_store(tmp_path)
    store.save(chatgpt_record())
    write_auth_json(tmp_path, "sk-file-123456789")
    assert store.delete() is True
    assert store.load() is None
    assert not (tmp_path / "auth.json").exists()
    assert item_attributes(secret_service.address, DIRECT_SERVICE, store.account) == []


def test_an_entry_python_keyring_wrote_is_updated_in_place(
    tmp_path: Path, secret_service: SecretService
) -> None:
    """As Codex does: one entry per account, whoever created it."""
    account = keyring_account(tmp_path)
    python_keyring = PythonSecretService.Keyring()  # type: ignore[no-untyped-call]
    python_keyring.set_password(DIRECT_SERVICE, account, "{}")  # type: ignore[no-untyped-call]
    direct_store(tmp_path).save(API_KEY_RECORD)
    [(_, attributes)] = item_attributes(secret_service.address, DIRECT_SERVICE, account)
    assert attributes["application"] == "Python keyring library"
    assert direct_store(tmp_path).load() is not None


def test_a_new_entry_carries_codex_s_label_and_attributes(
    tmp_path: Path, secret_service: SecretService
) -> None:
    direct_store(tmp_path).save(API_KEY_RECORD)
    account = keyring_account(tmp_path)
    [(label, attributes)] = item_attributes(secret_service.address, DIRECT_SERVICE, account)
    assert label.startswith(f"{account}@{DIRECT_SERVICE}:")
    assert {attributes["service"], attributes["username"]} == {DIRECT_SERVICE, account}


# -- the encrypted layout ---------------------------------------------------------------


@pytest.mark.slow
def test_the_encrypted_file_is_private_and_keeps_other_secrets(
    tmp_path: Path, secret_service: SecretService
) -> None:
    store = encrypted_store(tmp_path)
    write_auth_json(tmp_path, "sk-file-123456789")
    store.save(API_KEY_RECORD)
    assert not (tmp_path / "auth.json").exists()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700
    passphrase = item_secret(secret_service.address, SERVICE, secrets_account(tmp_path))
    assert passphrase is not None
    assert len(base64.b64decode(passphrase)) == 32
    other = {"version": 1, "secrets": {"global/OTHER": "kept", AUTH_KEY: "{}"}}
    store.path.write_bytes(
        pyrage.passphrase.encrypt(json.dumps(other).encode(), passphrase.decode())
    )
    store.save(API_KEY_RECORD)
    assert store.delete() is True
    envelope = json.loads(pyrage.passphrase.decrypt(store.path.read_bytes(), passphrase.decode()))
    assert envelope == {"version": 1, "secrets": {"global/OTHER": "kept"}}


@pytest.mark.slow
def test_a_wrong_passphrase_is_one_line_and_nothing_is_overwritten(
    tmp_path: Path, secret_service: SecretService
) -> None:
    store = encrypted_store(tmp_path)
    store.save(API_KEY_RECORD)
    before = store.path.read_bytes()
    CodexSecretService().set_password(SERVICE, secrets_account(tmp_path), "not-the-passphrase")
    fresh = encrypted_store(tmp_path)  # the cache is keyed by the file, which is unchanged:
    fresh.path.touch()  # a new ctime makes it read (and decrypt) the file again
    for action in (fresh.load, lambda: fresh.save(chatgpt_record()), fresh.delete):
        with pytest.raises(StorageError, match="the passphrase is wrong or the file is damaged"):
            action()
    assert store.path.read_bytes() == before


@pytest.mark.slow
def test_a_tampered_file_is_an_error(tmp_path: Path, secret_service: SecretService) -> None:
    store = encrypted_store(tmp_path)
    store.save(API_KEY_RECORD)
    data = bytearray(store.path.read_bytes())
    data[-5] ^= 0x01
    store.path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match=r"cannot decrypt .*codex_auth\.age") as caught:
        store.load()
    assert "\n" not in str(caught.value)


def test_a_file_without_its_passphrase_is_an_error(
    tmp_path: Path, secret_service: SecretService
) -> None:
    store = encrypted_store(tmp_path)
    store.path.parent.mkdir()
    store.path.write_bytes(b"age-encryption.org/v1\n")
    with pytest.raises(StorageError, match="its passphrase is not in the OS keyring"):
        store.load()
    with pytest.raises(StorageError, match="its passphrase is not in the OS keyring"):
        store.save(API_KEY_RECORD)
    assert store.path.read_bytes() == b"age-encryption.org/v1\n"


@pytest.mark.slow
def test_a_read_is_decrypted_once_per_version_of_the_file(
    tmp_path: Path, secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted_store(tmp_path).save(API_KEY_RECORD)
    calls: list[int] = []
    decrypt = pyrage.passphrase.decrypt

    def counted(data: bytes, passphrase: str) -> bytes:
        calls.append(1)
        result: bytes = decrypt(data, passphrase)
        return result

    monkeypatch.setattr(pyrage.passphrase, "decrypt", counted)
    store = encrypted_store(tmp_path)
    store.path.touch()  # another version: not yet decrypted
    for _ in range(3):
        assert store.load() is not None
    assert encrypted_store(tmp_path).load() is not None  # another handle, same process
    assert len(calls) == 1


# -- the CLI on the real daemon ----------------------------------------------------------


def test_the_cli_logs_in_and_out_through_the_secret_service(
    tmp_path: Path, secret_service: SecretService
) -> None:
    home = tmp_path / "codex"
    env = clean_env(home, CODEX_LOGIN_STORE="keyring", **secret_service.env)
    assert run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789").returncode == 0
    status = run_cli("status", env=env)
    assert status.stderr.splitlines()[0] == "API key configured - sk-test-***56789"
    assert run_cli("logout", env=env).stderr == "Successfully logged out\n"
    assert item_attributes(secret_service.address, DIRECT_SERVICE, keyring_account(home)) == []


def test_without_d_bus_keyring_is_a_clear_error_and_auto_falls_back(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    env = clean_env(home, CODEX_LOGIN_STORE="keyring")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    refused = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("Error: no OS keyring is available (")
    assert "DBUS_SESSION_BUS_ADDRESS" in line
    env["CODEX_LOGIN_STORE"] = "auto"
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    assert login.returncode == 0, login.stderr
    assert login.stderr.splitlines()[0].startswith("No OS keyring is available (")
    assert login.stderr.splitlines()[0].endswith(f"using {home / 'auth.json'} (mode 0600)")
    assert (home / "auth.json").exists()
