"""A writer waiting for a lock says so, names the holder when the OS tells, and gives
up within its bound."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.lock_holders import describe_holders, flock_holders
from codex_login.domain.errors import LockTimeout
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.locks import lock_held_elsewhere
from support.posix import posix_module

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-key")

DEVICE = os.makedev(0xFE, 0x01)
PROC_LOCKS = """\
1: POSIX  ADVISORY  WRITE 111 fe:01:42 0 EOF
2: FLOCK  ADVISORY  WRITE 222 fe:01:42 0 EOF
2: -> FLOCK  ADVISORY  WRITE 333 fe:01:42 0 EOF
3: FLOCK  ADVISORY  WRITE 444 fe:01:43 0 EOF
4: FLOCK  ADVISORY  WRITE 555 fe:02:42 0 EOF
5: FLOCK  ADVISORY  READ  0 fe:01:42 0 EOF
6: OFDLCK ADVISORY  WRITE -1 fe:01:42 0 EOF
"""


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_flock_holders_are_the_flock_entries_on_the_same_device_and_inode() -> None:
    assert flock_holders(PROC_LOCKS, DEVICE, 42) == [222]


def test_flock_holders_read_device_numbers_as_hex() -> None:
    text = "1: FLOCK  ADVISORY  WRITE 7 103:0a:9 0 EOF\n"
    assert flock_holders(text, os.makedev(0x103, 0x0A), 9) == [7]


@pytest.mark.parametrize("text", ["", "garbage\n", "1: FLOCK ADVISORY WRITE 7 fe:zz:42 0 EOF\n"])
def test_flock_holders_of_unusable_text_are_none(text: str) -> None:
    assert flock_holders(text, DEVICE, 42) == []


def test_an_unlocked_file_has_no_holder(tmp_path: Path) -> None:
    (tmp_path / "free").touch()
    assert describe_holders(tmp_path / "free") is None


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_the_holder_of_a_flock_is_named_with_its_command(tmp_path: Path) -> None:
    fcntl = posix_module("fcntl")
    path = tmp_path / "lock"
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert describe_holders(path) == f"process {os.getpid()} ({command_of(os.getpid())})"


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_a_long_wait_says_who_holds_the_lock_then_gives_up(tmp_path: Path) -> None:
    notices: list[str] = []
    store = FileCredentialStore(tmp_path, writer_lock_timeout=1.5, notify=notices.append)
    lock = tmp_path / "auth.lock"
    with lock_held_elsewhere(lock) as holder:
        held_by = f"held by process {holder.pid} ({command_of(holder.pid)})"
        with pytest.raises(LockTimeout) as raised:
            store.save(API_KEY_RECORD)
    assert notices == [
        f"Waiting for {lock}, {held_by}; giving up after 1.5 s "
        "(CODEX_LOGIN_LOCK_TIMEOUT changes this)"
    ]
    message = str(raised.value)
    assert str(lock) in message
    assert held_by in message
    assert "CODEX_LOGIN_LOCK_TIMEOUT" in message
    assert not (tmp_path / "auth.json").exists()


def test_a_short_wait_is_silent(tmp_path: Path) -> None:
    notices: list[str] = []
    store = FileCredentialStore(tmp_path, writer_lock_timeout=0.3, notify=notices.append)
    with lock_held_elsewhere(tmp_path / "auth.lock"), pytest.raises(LockTimeout):
        store.save(API_KEY_RECORD)
    assert notices == []


def test_an_uncontended_write_is_silent(tmp_path: Path) -> None:
    notices: list[str] = []
    store = FileCredentialStore(tmp_path, notify=notices.append)
    store.save(API_KEY_RECORD)
    store.delete()
    assert notices == []
