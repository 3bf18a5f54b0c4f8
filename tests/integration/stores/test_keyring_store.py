"""The OS keyring store (optional extra), in process and through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import pytest

from codex_login.adapters.auto_store import AutoCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.keyring_store import SERVICE, KeyringCredentialStore, keyring_account
from codex_login.domain.errors import ConfigurationError, StorageError
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import clean_env, run_cli
from support.keyring_backends import MemoryKeyring
from support.records import chatgpt_record

TESTS = str(Path(__file__).resolve().parents[2])


def test_the_account_name_is_the_codex_clis(tmp_path: Path) -> None:
    digest = hashlib.sha256(str(tmp_path.resolve()).encode()).hexdigest()
    assert keyring_account(tmp_path) == "cli|" + digest[:16]


def test_records_round_trip_as_compact_json(tmp_path: Path) -> None:
    keys = MemoryKeyring()
    store = KeyringCredentialStore(tmp_path, backend=keys)
    record = chatgpt_record()
    store.save(record)
    value = keys.entries[(SERVICE, keyring_account(tmp_path))]
    assert "\n" not in value
    assert value.startswith('{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{')
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == record
    assert not (tmp_path / "auth.json").exists()


def test_delete_and_fingerprint(tmp_path: Path) -> None:
    store = KeyringCredentialStore(tmp_path, backend=MemoryKeyring())
    empty = store.fingerprint()
    assert store.delete() is False
    store.save(CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-1"))
    assert store.fingerprint() != empty
    assert store.delete() is True
    assert store.load() is None


def test_a_failing_keyring_is_a_storage_error(tmp_path: Path) -> None:
    keys = MemoryKeyring()
    keys.broken = True
    with pytest.raises(StorageError, match="the OS keyring failed: the keyring is locked"):
        KeyringCredentialStore(tmp_path, backend=keys).load()


def test_without_the_keyring_package_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'codex-login\[keyring\]'") as caught:
        KeyringCredentialStore(tmp_path).load()
    assert isinstance(caught.value.__cause__, ImportError)


MISSING_PACKAGE = (
    "the keyring store needs the keyring package, which is not installed; "
    "install it with: pip install 'codex-login[keyring]' (from a checkout: pip install "
    "'.[keyring]'), or use CODEX_LOGIN_STORE=file"
)


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        (["status"], "Error checking login status: "),
        (["token"], "Error: "),
        (["login", "--with-api-key"], "Error: "),
        (["logout"], "Error: "),
    ],
)
def test_the_cli_without_the_keyring_package_says_how_to_install_it(
    tmp_path: Path, command: list[str], prefix: str
) -> None:
    home = tmp_path / "codex"
    env = without_the_keyring_package(tmp_path, home, "keyring")
    result = run_cli(*command, env=env, stdin="sk-test-123456789")
    assert (result.returncode, result.stderr) == (1, f"{prefix}{MISSING_PACKAGE}\n")
    assert not (home / "auth.json").exists()


def test_auto_without_the_keyring_package_says_how_to_install_it(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    env = without_the_keyring_package(tmp_path, home, "auto")
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    assert login.returncode == 0, login.stderr
    assert login.stderr.splitlines()[0] == (
        "No OS keyring is available (the keyring package is not installed; install it with: "
        "pip install 'codex-login[keyring]' (from a checkout: pip install '.[keyring]')); "
        f"using {home / 'auth.json'} (mode 0600)"
    )


def without_the_keyring_package(tmp_path: Path, home: Path, store: str) -> dict[str, str]:
    """The CLI's environment with a ``keyring`` that cannot be imported found first."""
    shadow = tmp_path / "shadow" / "keyring"  # found before the installed package
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'keyring'\", name='keyring')\n"
    )
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    return clean_env(home, CODEX_LOGIN_STORE=store, PYTHONPATH=path)


def keyring_env(home: Path, keyring_file: Path, store: str, backend: str) -> dict[str, str]:
    """The child's keyring is ``backend``; no D-Bus session, so no Secret Service either."""
    env = clean_env(
        home,
        CODEX_LOGIN_STORE=store,
        PYTHON_KEYRING_BACKEND=backend,
        TEST_KEYRING_FILE=str(keyring_file),
        PYTHONPATH=os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])),
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return env


def test_the_cli_logs_in_and_out_through_the_keyring(tmp_path: Path) -> None:
    keyring_file = tmp_path / "keyring.json"
    home = tmp_path / "codex"
    env = keyring_env(home, keyring_file, "keyring", "support.keyring_backends.FileKeyring")
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    assert login.returncode == 0, login.stderr
    assert not (home / "auth.json").exists()
    [value] = json.loads(keyring_file.read_text()).values()
    assert json.loads(value) == {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-123456789"}
    status = run_cli("status", "--json", env=env)
    assert json.loads(status.stdout)["source"].startswith("the OS keyring (Codex Auth / cli|")
    assert run_cli("logout", env=env).stderr == "Successfully logged out\n"
    assert json.loads(keyring_file.read_text()) == {}


def test_auto_says_when_it_falls_back_to_the_file(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    env = keyring_env(home, tmp_path / "unused.json", "auto", "keyring.backends.fail.Keyring")
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    assert login.returncode == 0, login.stderr
    assert re.fullmatch(
        rf"No OS keyring is available \(.*DBUS_SESSION_BUS_ADDRESS.*\); "
        rf"using {re.escape(str(home / 'auth.json'))} \(mode 0600\)",
        login.stderr.splitlines()[0],
    )
    assert (home / "auth.json").exists()


def test_auto_s_notice_comes_from_the_wiring_not_the_service(tmp_path: Path) -> None:
    """The composition root tells whoever asks which store ``auto`` chose; the service
    keeps no message for the command line."""
    heard: list[str] = []
    service = bootstrap(
        codex_home=tmp_path, environ={"CODEX_LOGIN_STORE": "auto"}, store_notice=heard.append
    )
    assert not hasattr(service, "store_notice")
    [notice] = heard
    assert notice.startswith(("No OS keyring is available", "Using "))


def test_auto_s_notice_is_said_by_login_only(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    env = keyring_env(home, tmp_path / "unused.json", "auto", "keyring.backends.fail.Keyring")
    assert run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789").returncode == 0
    status = run_cli("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "No OS keyring" not in status.stderr + status.stdout


def test_auto_uses_the_keyring_when_there_is_one(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    env = keyring_env(home, tmp_path / "k.json", "auto", "support.keyring_backends.FileKeyring")
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-test-123456789")
    first = login.stderr.splitlines()[0]
    assert first.startswith("Using the OS keyring (Codex Auth / cli|")
    # Said before the save: it says where the login goes should the keyring fail.
    assert first.endswith(f") ({home / 'auth.json'} if the keyring fails)")
    assert not (home / "auth.json").exists()


def test_the_keyring_store_without_a_usable_keyring_says_so(tmp_path: Path) -> None:
    env = keyring_env(
        tmp_path, tmp_path / "unused.json", "keyring", "keyring.backends.fail.Keyring"
    )
    result = run_cli("status", env=env)
    assert result.returncode == 1
    assert re.fullmatch(
        r"Error checking login status: no OS keyring is available \(.*DBUS_SESSION_BUS_ADDRESS"
        r".*\); set PYTHON_KEYRING_BACKEND to a usable backend or use CODEX_LOGIN_STORE=file\n",
        result.stderr,
    )


def test_an_unknown_store_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("status", env=clean_env(tmp_path, CODEX_LOGIN_STORE="cloud"))
    assert result.returncode == 1
    assert "CODEX_LOGIN_STORE='cloud' is not a credential store" in result.stderr


def test_the_fingerprint_does_not_hold_the_secret(tmp_path: Path) -> None:
    store = KeyringCredentialStore(tmp_path, backend=MemoryKeyring())
    store.save(chatgpt_record(refresh="rt-very-secret"))
    assert "rt-very-secret" not in repr(store.fingerprint())


def test_a_malformed_entry_can_still_be_logged_out(tmp_path: Path) -> None:
    keys = MemoryKeyring()
    keys.entries[(SERVICE, keyring_account(tmp_path))] = "{not json"
    assert KeyringCredentialStore(tmp_path, backend=keys).delete() is True
    assert keys.entries == {}


# -- auto: the keyring first, then auth.json -------------------------------------------


def auto_store(home: Path, keys: MemoryKeyring, notices: list[str]) -> AutoCredentialStore:
    files = FileCredentialStore(home)
    keyring = KeyringCredentialStore(home, backend=keys, files=files)
    return AutoCredentialStore(keyring, files, notify=notices.append)


def test_auto_reads_auth_json_when_the_keyring_has_no_entry(tmp_path: Path) -> None:
    FileCredentialStore(tmp_path).save(chatgpt_record())
    notices: list[str] = []
    store = auto_store(tmp_path, MemoryKeyring(), notices)
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == chatgpt_record()
    assert store.location == str(tmp_path / "auth.json")
    assert notices == []


def test_auto_falls_back_on_a_keyring_error_and_says_so_once(tmp_path: Path) -> None:
    FileCredentialStore(tmp_path).save(chatgpt_record())
    keys, notices = MemoryKeyring(), list[str]()
    keys.broken = True
    store = auto_store(tmp_path, keys, notices)
    assert store.load() is not None
    assert store.load() is not None
    assert notices == [  # said once, without the keyring's own "the OS keyring failed:"
        f"The OS keyring failed (the keyring is locked); using {tmp_path / 'auth.json'} instead"
    ]


def test_an_auto_save_goes_to_the_keyring_and_deletes_auth_json(tmp_path: Path) -> None:
    FileCredentialStore(tmp_path).save(chatgpt_record(refresh="rt-old"))
    keys = MemoryKeyring()
    store = auto_store(tmp_path, keys, [])
    store.save(chatgpt_record(refresh="rt-new"))
    assert not (tmp_path / "auth.json").exists()
    assert list(keys.entries) == [(SERVICE, keyring_account(tmp_path))]
    assert store.location.startswith("the OS keyring")


def test_an_auto_save_with_a_failing_keyring_writes_auth_json_and_says_so(tmp_path: Path) -> None:
    keys, notices = MemoryKeyring(), list[str]()
    keys.broken = True
    store = auto_store(tmp_path, keys, notices)
    store.save(chatgpt_record())
    assert FileCredentialStore(tmp_path).load() is not None
    assert len(notices) == 1
    assert notices[0].endswith(f"using {tmp_path / 'auth.json'} instead")


def test_auto_logout_removes_the_entry_and_the_file(tmp_path: Path) -> None:
    keys = MemoryKeyring()
    store = auto_store(tmp_path, keys, [])
    store.save(chatgpt_record())
    FileCredentialStore(tmp_path).save(chatgpt_record())
    assert store.delete() is True
    assert keys.entries == {}
    assert not (tmp_path / "auth.json").exists()
