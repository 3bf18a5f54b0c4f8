"""The Windows lock (windows_lock): the Codex CLI's LockFileEx call, driven through a
fake kernel32 that records every call and its arguments, on real files."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest

from codex_login.adapters import windows_lock
from codex_login.adapters.lock_file import LockFile
from codex_login.adapters.owned_paths import Owners
from codex_login.adapters.windows_lock import OVERLAPPED, WindowsLock
from codex_login.domain.errors import StorageError
from support.fake_kernel32 import FakeKernel32, install

MAX = 0xFFFF_FFFF


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel32:
    return install(monkeypatch)


def test_overlapped_has_win32s_layout() -> None:
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes.sizeof(OVERLAPPED) == 32
    assert OVERLAPPED.Offset.offset == 2 * ctypes.sizeof(ctypes.c_void_p)
    assert OVERLAPPED.OffsetHigh.offset == OVERLAPPED.Offset.offset + 4


def test_the_lock_is_rusts_file_try_lock(kernel: FakeKernel32, tmp_path: Path) -> None:
    lock = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    assert lock.acquire(0)
    [(call, handle, flags, reserved, low, high, offset, offset_high)] = kernel.calls
    assert call == "LockFileEx"
    assert flags == windows_lock.LOCKFILE_EXCLUSIVE_LOCK | windows_lock.LOCKFILE_FAIL_IMMEDIATELY
    assert flags == 0x3
    assert (reserved, low, high) == (0, MAX, MAX)  # the whole file, as Rust locks it
    assert (offset, offset_high) == (0, 0)
    lock.release()
    assert kernel.calls[1] == ("UnlockFile", handle, 0, 0, MAX, MAX)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(handle)  # released on close
    assert not lock.is_locked


def test_a_lock_violation_is_busy_and_closes_what_it_opened(
    kernel: FakeKernel32, tmp_path: Path
) -> None:
    kernel.busy = 1
    lock = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    assert not lock.acquire(0)  # one attempt
    [(_, handle, *_)] = kernel.calls
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(handle)
    assert not lock.is_locked


def test_a_wait_polls_until_the_holder_lets_go(kernel: FakeKernel32, tmp_path: Path) -> None:
    kernel.busy = 3
    lock = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    assert lock.acquire(30.0)
    assert [call[0] for call in kernel.calls] == ["LockFileEx"] * 4
    assert len({call[1] for call in kernel.calls}) == 1  # one handle, tried again
    lock.release()


def test_another_handle_is_excluded(kernel: FakeKernel32, tmp_path: Path) -> None:
    first = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    second = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    assert first.acquire(0)
    assert not second.acquire(0)
    first.release()
    assert second.acquire(0)
    second.release()


def test_another_error_is_one_line(kernel: FakeKernel32, tmp_path: Path) -> None:
    kernel.error = 5  # ERROR_ACCESS_DENIED
    lock = WindowsLock(tmp_path / "auth.lock", mode=0o600)
    with pytest.raises(OSError, match=r"LockFileEx failed \(Windows error 5\)") as failed:
        lock.acquire(10.0)
    assert "\n" not in str(failed.value)
    assert len(kernel.calls) == 1  # not retried: only a held lock is waited for
    assert not lock.is_locked


def test_the_file_is_created_with_the_mode_and_never_truncated(
    kernel: FakeKernel32, tmp_path: Path
) -> None:
    path = tmp_path / "auth.lock"
    path.write_bytes(b"pid")
    lock = WindowsLock(path, mode=0o600)
    assert lock.acquire(0)
    lock.release()
    assert path.read_bytes() == b"pid"
    new = WindowsLock(tmp_path / "new.lock", mode=0o600)
    assert new.acquire(0)
    new.release()
    assert (tmp_path / "new.lock").stat().st_mode & 0o777 == 0o600


def test_a_refused_file_gives_the_lock_back(kernel: FakeKernel32, tmp_path: Path) -> None:
    def refuse(fd: int) -> None:
        raise StorageError("not ours")

    lock = WindowsLock(tmp_path / "auth.lock", mode=0o600, on_acquired=refuse)
    with pytest.raises(StorageError, match="not ours"):
        lock.acquire(0)
    assert [call[0] for call in kernel.calls] == ["LockFileEx", "UnlockFile"]
    assert not lock.is_locked


def test_there_is_no_kernel32_here() -> None:
    with pytest.raises(OSError, match="Windows"):
        windows_lock.native_api()


@pytest.mark.usefixtures("kernel")
def test_the_lock_file_takes_it_on_windows(
    monkeypatch: pytest.MonkeyPatch, kernel: FakeKernel32, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    lock = LockFile(tmp_path, "auth.json.lock", Owners(), mode=0o600)
    assert lock.acquire(0)
    other = LockFile(tmp_path, "auth.json.lock", Owners(), mode=0o600)
    assert not other.acquire(0)
    lock.release()
    assert other.acquire(0)
    other.release()
    assert {call[0] for call in kernel.calls} == {"LockFileEx", "UnlockFile"}
    assert all(call[4:6] == (MAX, MAX) for call in kernel.calls)


def test_the_lock_files_error_on_windows_is_one_line(
    monkeypatch: pytest.MonkeyPatch, kernel: FakeKernel32, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    kernel.error = 6  # ERROR_INVALID_HANDLE
    with pytest.raises(StorageError) as failed:
        LockFile(tmp_path, "auth.lock", Owners(), mode=0o600).acquire(1.0)
    said = str(failed.value)
    assert said == f"cannot lock {tmp_path / 'auth.lock'}: LockFileEx failed (Windows error 6)"
