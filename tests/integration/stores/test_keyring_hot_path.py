"""The keyring store's hot path asks the Secret Service nothing while nothing changed.

Messages are counted where they leave this process (jeepney's blocking connection,
which secretstorage uses for every call) on the real gnome-keyring-daemon the tests
start. A write by another process of ours moves the commit marker and is seen at
once; one that leaves CODEX_HOME untouched, as the Codex CLI's keyring save does,
is seen within ``CACHE_MAX_AGE``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney.io.blocking import DBusConnection

from codex_login import AsyncCodexAuth, CodexAuth
from codex_login.adapters.keyring_store import CACHE_MAX_AGE, SERVICE, KeyringCredentialStore
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.cli import clean_env, run_cli
from support.secret_service import SecretService

CALLS = 200
FIRST_KEY = "sk-first-123456789"

# What the Codex CLI does on a keyring save: the entry changes, CODEX_HOME does not.
CODEX_LIKE_WRITE = """
import sys
from codex_login.adapters.secret_service import CodexSecretService
service, account, value = sys.argv[1:]
CodexSecretService().set_password(service, account, value)
"""


@pytest.fixture
def dbus_messages(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every D-Bus message this process sends from now on."""
    sent: list[object] = []
    send = DBusConnection.send

    def counted(self: DBusConnection, message: object, serial: int | None = None) -> None:
        sent.append(message)
        send(self, message, serial)

    monkeypatch.setattr(DBusConnection, "send", counted)
    monkeypatch.setattr(DBusConnection, "send_message", counted)  # an alias of send
    return sent


@pytest.fixture
def home(tmp_path: Path, secret_service: SecretService) -> Iterator[Path]:
    path = tmp_path / "codex"
    path.mkdir(mode=0o700)
    store(path).save(CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key=FIRST_KEY))
    yield path
    store(path).delete()


def store(home: Path, **options: float) -> KeyringCredentialStore:
    return KeyringCredentialStore(home, backend=CodexSecretService(), **options)  # type: ignore[arg-type]


def test_the_counter_sees_a_keyring_read(home: Path, dbus_messages: list[object]) -> None:
    assert store(home).load() is not None
    assert dbus_messages  # so that an empty count below means something


def test_get_token_sends_no_dbus_message_while_nothing_changed(
    home: Path, dbus_messages: list[object]
) -> None:
    auth = CodexAuth(store=store(home, cache_max_age=3600), environ={})
    assert auth.get_token() == FIRST_KEY  # the first call reads the entry
    dbus_messages.clear()
    assert {auth.get_token() for _ in range(CALLS)} == {FIRST_KEY}
    assert dbus_messages == []


def test_the_async_twin_s_get_token_sends_none_either(
    home: Path, dbus_messages: list[object]
) -> None:
    auth = AsyncCodexAuth(store=store(home, cache_max_age=3600), environ={})

    async def many() -> set[str]:
        await auth.get_token()
        dbus_messages.clear()
        return {await auth.get_token() for _ in range(CALLS)}

    assert asyncio.run(many()) == {FIRST_KEY}
    assert dbus_messages == []


def test_a_login_by_another_codex_login_process_is_seen_at_once(
    home: Path, secret_service: SecretService
) -> None:
    auth = CodexAuth(store=store(home, cache_max_age=3600), environ={})
    assert auth.get_token() == FIRST_KEY
    env = clean_env(home, CODEX_LOGIN_STORE="keyring", **secret_service.env)
    login = run_cli("login", "--with-api-key", env=env, stdin="sk-second-123456789")
    assert login.returncode == 0, login.stderr
    assert auth.get_token() == "sk-second-123456789"  # the marker moved: no waiting


def test_a_write_that_leaves_codex_home_alone_is_seen_within_the_bound(
    home: Path, secret_service: SecretService
) -> None:
    keyring = store(home)
    auth = CodexAuth(store=keyring, environ={})
    assert auth.get_token() == FIRST_KEY
    value = '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-codex-123456789"}'
    subprocess.run(
        [sys.executable, "-c", CODEX_LIKE_WRITE, SERVICE, keyring.account, value],
        env={**clean_env(home), **secret_service.env},
        check=True,
        timeout=60,
    )
    written = time.monotonic()
    deadline = written + CACHE_MAX_AGE + 5  # the bound, and room for a loaded machine
    while auth.get_token() == FIRST_KEY and time.monotonic() < deadline:
        pass
    assert auth.get_token() == "sk-codex-123456789"
    assert time.monotonic() - written < CACHE_MAX_AGE + 5
