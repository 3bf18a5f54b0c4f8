"""The lock the Codex CLI takes on Windows: ``LockFileEx`` over the whole file.

The Codex CLI (Rust std's ``File::lock`` / ``File::try_lock``; its Windows binary
imports ``LockFileEx``, ``UnlockFile`` and ``UnlockFileEx`` from kernel32, see
docs/platforms.md) locks a file with
``LockFileEx(handle, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, u32::MAX,
u32::MAX, &overlapped)``, the OVERLAPPED zeroed (offset 0), and unlocks it with
``UnlockFile(handle, 0, 0, u32::MAX, u32::MAX)``. This module takes the same call on the
same range, through ctypes, so the two exclude each other by construction rather than
because two ranges overlap (filelock's ``WindowsFileLock`` locks byte 0 only).

An attempt never blocks (``LOCKFILE_FAIL_IMMEDIATELY``); a wait polls every
``POLL_INTERVAL`` until its timeout, as filelock's ``flock`` waits do on POSIX, so the
stores' waits (``store_core.wait_within``: the notice, ``LockTimeout``) are the same on
every platform. The lock goes with the handle: ``release`` unlocks, then closes.
``ERROR_LOCK_VIOLATION`` is "held by someone else"; any other failure is an OSError
whose message is one line.

The kernel32 calls are given as ``Api`` (built from ctypes on Windows only), so the
tests drive every branch on Linux through a fake that records each call.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs

from codex_login.adapters import os_flags
from codex_login.domain.fields_repr import FieldsRepr

LOCKFILE_FAIL_IMMEDIATELY = 0x01
LOCKFILE_EXCLUSIVE_LOCK = 0x02
ERROR_LOCK_VIOLATION = 33  # another handle holds an overlapping lock
WHOLE_FILE = 0xFFFF_FFFF  # u32::MAX, as both halves of the length: Rust's range
POLL_INTERVAL = 0.02  # as lock_file.POLL_INTERVAL: the Codex CLI retries every 10 ms
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os_flags.CLOEXEC | os_flags.NOFOLLOW


class OVERLAPPED(ctypes.Structure):
    """Win32's OVERLAPPED: two ULONG_PTRs, the offset's two DWORDs (a union with a
    pointer, so pointer-sized together), the event HANDLE: 32 bytes on x64."""

    _fields_ = (
        ("Internal", ctypes.c_size_t),
        ("InternalHigh", ctypes.c_size_t),
        ("Offset", ctypes.c_uint32),
        ("OffsetHigh", ctypes.c_uint32),
        ("hEvent", ctypes.c_void_p),
    )


class Kernel32(Protocol):
    """The two kernel32 functions the lock calls (ctypes names them as Win32 does)."""

    def LockFileEx(  # noqa: N802, PLR0917  (Win32's own signature)
        self, handle: int, flags: int, reserved: int, low: int, high: int, overlapped: Any, /
    ) -> int: ...

    def UnlockFile(  # noqa: N802
        self, handle: int, offset_low: int, offset_high: int, low: int, high: int, /
    ) -> int: ...


@attrs.frozen(repr=False)
class Api(FieldsRepr):
    """kernel32, the Win32 handle of a C descriptor (``msvcrt.get_osfhandle``) and the
    thread's last error (``ctypes.get_last_error``)."""

    kernel32: Kernel32
    handle_of: Callable[[int], int]
    last_error: Callable[[], int]


def native_api() -> Api:
    """The real calls; OSError (ENOSYS) where there is no kernel32."""
    if sys.platform == "win32":
        import msvcrt  # noqa: PLC0415  (Windows only)
        from ctypes import wintypes  # noqa: PLC0415

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.LockFileEx.argtypes = [
            wintypes.HANDLE,
            wintypes.DWORD,
            wintypes.DWORD,
            wintypes.DWORD,
            wintypes.DWORD,
            ctypes.POINTER(OVERLAPPED),
        ]
        kernel32.LockFileEx.restype = wintypes.BOOL
        kernel32.UnlockFile.argtypes = [wintypes.HANDLE, *[wintypes.DWORD] * 4]
        kernel32.UnlockFile.restype = wintypes.BOOL
        return Api(kernel32, msvcrt.get_osfhandle, ctypes.get_last_error)
    else:
        raise OSError(errno.ENOSYS, "LockFileEx is a Windows call")


def try_lock(api: Api, fd: int) -> bool:
    """One attempt at the Codex CLI's lock on the open file ``fd``: True when taken,
    False when another handle holds it; OSError on any other failure."""
    overlapped = OVERLAPPED()  # zeroed: the range starts at offset 0
    flags = LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY
    handle = api.handle_of(fd)
    if api.kernel32.LockFileEx(
        handle, flags, 0, WHOLE_FILE, WHOLE_FILE, ctypes.pointer(overlapped)
    ):
        return True
    code = api.last_error()
    if code == ERROR_LOCK_VIOLATION:
        return False
    raise _windows_error(code, "LockFileEx")


def unlock(api: Api, fd: int) -> None:
    """Give the lock on ``fd`` back (the range ``try_lock`` took)."""
    if not api.kernel32.UnlockFile(api.handle_of(fd), 0, 0, WHOLE_FILE, WHOLE_FILE):
        raise _windows_error(api.last_error(), "UnlockFile")


def _windows_error(code: int, call: str) -> OSError:
    """A one-line OSError for a failed call (``ctypes.WinError`` is Windows's only)."""
    return OSError(errno.EIO, f"{call} failed (Windows error {code})")


class WindowsLock:
    """The Codex CLI's exclusive lock on ``path``, created with ``mode`` when missing.
    ``on_acquired`` is given the descriptor once the lock is held (a raise there gives
    the lock back), as filelock's ``on_acquired``."""

    def __init__(
        self,
        path: Path,
        *,
        mode: int,
        on_acquired: Callable[[int], None] | None = None,
        api: Api | None = None,
    ) -> None:
        self.path = path
        self.mode = mode
        self._on_acquired = on_acquired
        self._api = api
        self._fd: int | None = None

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds (0: one attempt), polling every
        POLL_INTERVAL; False when it stayed held. Held already: True."""
        if self._fd is not None:
            return True
        api = self._api or native_api()
        fd = os.open(self.path, _OPEN_FLAGS, self.mode)
        try:
            if not _poll(lambda: try_lock(api, fd), timeout):
                os.close(fd)
                return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if self._on_acquired is not None:
            try:
                self._on_acquired(fd)
            except BaseException:
                self.release()
                raise
        return True

    def release(self) -> None:
        """Unlock and close; closing alone would free it too (the lock is the handle's)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            unlock(self._api or native_api(), fd)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)


def _poll(attempt: Callable[[], bool], timeout: float) -> bool:
    """``attempt()`` until it is True or ``timeout`` seconds have passed (0: once)."""
    deadline = time.monotonic() + timeout
    while not attempt():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(POLL_INTERVAL, left))
    return True
