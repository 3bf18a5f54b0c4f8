"""An ``flock(2)`` lock on a file in a checked directory, as the Codex CLI takes its locks.

The lock itself is filelock's ``UnixFileLock`` (on Windows, ``windows_lock``: the
Codex CLI's own ``LockFileEx`` over the whole file, checked the same way): it
opens the lock file with ``O_NOFOLLOW`` and never truncates it, so a link planted in its
place cannot make a writer create, truncate or chmod a file elsewhere. The directory is
checked before each acquisition, and what filelock opened is checked through the
descriptor it hands to ``on_acquired`` (a regular file with a trusted owner), then
tightened with ``fchmod`` on that same descriptor. The lock file is opened by path after
its directory was checked by path: nobody else can swap a name in a checked directory.
Lock files stay in place, as the Codex CLI leaves its own. filelock is imported by
writers only, to keep reads fast.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters.home_access import DESCRIPTORS, HomeAccess
from codex_login.adapters.owned_paths import (
    Owners,
    check_file,
    give_to_directory_owner,
    make_private,
)
from codex_login.domain.errors import StorageError

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from codex_login.adapters.windows_lock import WindowsLock

# How often a waiting writer tries again; the Codex CLI retries its commit lock every 10 ms.
POLL_INTERVAL = 0.02


def _native_lock() -> type[BaseFileLock]:
    """filelock's ``flock`` lock, as the Codex CLI takes on POSIX (Windows: ``windows_lock``)."""
    from filelock import UnixFileLock  # noqa: PLC0415  (writers only)

    return UnixFileLock


class LockFile:
    """An exclusive ``flock`` on ``directory/name``, a file of ``mode`` (the stores'
    ``FILE_MODE``); re-entrant for whoever holds it (the caller keeps other threads out)."""

    def __init__(
        self,
        directory: Path,
        name: str,
        owners: Owners,
        *,
        mode: int,
        access: HomeAccess = DESCRIPTORS,
    ) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / name
        self.mode = mode
        self._owners = owners
        self._access = access
        self._lock: BaseFileLock | None = None
        self._lock_pid = 0  # the process that made _lock
        self._windows_lock: WindowsLock | None = None
        self._directory_info: os.stat_result | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds (0: one attempt); False when it
        stayed held. StorageError (or its UntrustedPath) when the file is not usable."""
        if sys.platform == "win32":
            return self._acquire_windows(timeout)
        else:
            return self._acquire_flock(timeout)

    def _acquire_flock(self, timeout: float) -> bool:
        from filelock import Timeout  # noqa: PLC0415  (writers only)

        lock = self._filelock()
        if not lock.is_locked:
            self._directory_info = self._checked_directory()
        try:
            lock.acquire(timeout=timeout, poll_interval=POLL_INTERVAL, blocking=timeout > 0)
        except Timeout:
            return False
        except OSError as exc:
            raise self._unusable(exc) from exc
        return True

    def release(self) -> None:
        if self._windows_lock is not None:
            self._windows_lock.release()
        if self._lock is not None:
            self._lock.release()  # the last release closes the descriptor: the flock goes

    def _acquire_windows(self, timeout: float) -> bool:
        """The Codex CLI's ``LockFileEx`` (``windows_lock``), checked as on POSIX."""
        if self._windows_lock is None:
            from codex_login.adapters.windows_lock import WindowsLock  # noqa: PLC0415

            self._windows_lock = WindowsLock(
                self.path, mode=self.mode, on_acquired=self._check_opened
            )
        lock = self._windows_lock
        if not lock.is_locked:
            self._directory_info = self._checked_directory()
        try:
            return lock.acquire(timeout)
        except OSError as exc:
            raise self._unusable(exc) from exc

    def _filelock(self) -> BaseFileLock:
        # filelock refuses an instance a forked child inherited: the child makes its own.
        if self._lock is None or self._lock_pid != os.getpid():
            self._lock_pid = os.getpid()
            self._lock = _native_lock()(
                self.path,
                mode=self.mode,
                thread_local=False,
                fallback_to_soft=False,
                on_acquired=self._check_opened,
            )
        return self._lock

    def _checked_directory(self) -> os.stat_result:
        try:
            home = self._access.open_directory(self.directory, self._owners)
            try:
                return self._access.fstat(home)
            finally:
                self._access.close(home)
        except OSError as exc:
            raise self._unusable(exc) from exc

    def _check_opened(self, fd: int) -> None:
        """What filelock opened and locked: ours (or a trusted owner's) regular file,
        made private through its descriptor. A raise here gives the lock back."""
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StorageError(f"cannot lock {self.path}: it is not a regular file")
            check_file(info, self.path, self._owners, private=False)
            make_private(fd, info, self.mode, self._owners)
            if self._directory_info is not None:
                give_to_directory_owner(fd, info, self._directory_info, self._owners)
        except OSError as exc:
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc

    def _unusable(self, exc: OSError) -> StorageError:
        if exc.errno == errno.ELOOP:
            return StorageError(
                f"cannot lock {self.path}: it is a symbolic link, which is never followed "
                f"for a lock file; remove it (`rm {self.path}`)"
            )
        return StorageError(f"cannot lock {self.path}: {exc.strerror or exc}")
