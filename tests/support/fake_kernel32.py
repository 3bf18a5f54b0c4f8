"""A fake kernel32 for the Windows lock (adapters/windows_lock.py): it records every
LockFileEx and UnlockFile call with its arguments, and holds each file's lock for one
handle at a time, as Windows does, so real files and the lock's users can run on Linux."""

from __future__ import annotations

import os
from typing import Any

import attrs
import pytest

from codex_login.adapters import windows_lock
from codex_login.adapters.windows_lock import Api


@attrs.define
class FakeKernel32:
    """Records the calls; the lock is held per file (its inode), by one handle at a time,
    as Windows holds it. ``busy``: how many attempts still find it held by someone else;
    ``error``: the last error every failing call reports instead of a lock violation."""

    calls: list[tuple[Any, ...]] = attrs.Factory(list)
    holders: dict[int, int] = attrs.Factory(dict)
    taken: list[int] = attrs.Factory(list)  # the inode of each file locked, in order
    busy: int = 0
    error: int | None = None
    last: int = 0

    def LockFileEx(  # noqa: N802, PLR0917
        self, handle: int, flags: int, reserved: int, low: int, high: int, overlapped: Any, /
    ) -> int:
        at = overlapped.contents
        self.calls.append(("LockFileEx", handle, flags, reserved, low, high, at.Offset))
        self.calls[-1] += (at.OffsetHigh,)
        if self.error is not None:
            self.last = self.error
            return 0
        inode = os.fstat(handle).st_ino
        if self.busy > 0 or self.holders.get(inode, handle) != handle:
            self.busy = max(self.busy - 1, 0)
            self.last = windows_lock.ERROR_LOCK_VIOLATION
            return 0
        self.holders[inode] = handle
        self.taken.append(inode)
        return 1

    def UnlockFile(  # noqa: N802
        self, handle: int, offset_low: int, offset_high: int, low: int, high: int, /
    ) -> int:
        self.calls.append(("UnlockFile", handle, offset_low, offset_high, low, high))
        self.holders.pop(os.fstat(handle).st_ino, None)
        return 1

    def api(self) -> Api:
        # The handle is the descriptor itself: the fake needs nothing else of msvcrt.
        return Api(self, handle_of=lambda fd: fd, last_error=lambda: self.last)


def install(monkeypatch: pytest.MonkeyPatch) -> FakeKernel32:
    """The fake, in place of the real calls ``windows_lock.native_api`` would build."""
    fake = FakeKernel32()
    monkeypatch.setattr(windows_lock, "native_api", fake.api)
    return fake
