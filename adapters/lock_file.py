"""An ``flock(2)`` lock on a file in a checked directory, as the Codex CLI takes its locks.

The lock file is opened relative to its directory's descriptor with ``O_NOFOLLOW``
and never truncated, so a link planted in its place cannot make a writer create,
truncate or chmod a file elsewhere. What was opened is checked with ``fstat`` (a
regular file with a trusted owner) and tightened with ``fchmod`` on that same
descriptor: no path is looked up twice. Lock files stay in place, as the Codex CLI
leaves its own.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from codex_login.adapters.owned_paths import (
    NO_FOLLOW,
    Owners,
    check_file,
    give_to_directory_owner,
    make_private,
    open_directory,
)
from codex_login.domain.errors import StorageError

FILE_MODE = 0o600
# How often a waiting writer tries again; the Codex CLI retries its commit lock every 10 ms.
POLL_INTERVAL = 0.02
# O_NONBLOCK: a FIFO planted as a lock file must not hang the open; O_NOCTTY: nor may a
# terminal become ours. Neither changes how a regular file behaves.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | NO_FOLLOW


class LockFile:
    """An exclusive ``flock`` on ``directory/name``; re-entrant for whoever holds it
    (the caller keeps other threads out)."""

    def __init__(self, directory: Path, name: str, owners: Owners) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / name
        self._owners = owners
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds (0: one attempt); False when it
        stayed held. StorageError (or its UntrustedPath) when the file is not usable."""
        if self._depth:
            self._depth += 1
            return True
        fd = self._open()
        deadline = time.monotonic() + timeout
        try:
            while not _try_flock(fd):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    os.close(fd)
                    return False
                time.sleep(min(POLL_INTERVAL, remaining))
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock

    def _open(self) -> int:
        try:
            home = open_directory(self.directory, self._owners)
            try:
                fd = os.open(self.name, _OPEN_FLAGS, FILE_MODE, dir_fd=home)
                directory = os.fstat(home)
            finally:
                os.close(home)
        except OSError as exc:
            raise self._unusable(exc) from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StorageError(f"cannot lock {self.path}: it is not a regular file")
            check_file(info, self.path, self._owners, private=False)
            make_private(fd, info, FILE_MODE, self._owners)
            give_to_directory_owner(fd, info, directory, self._owners)
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _unusable(self, exc: OSError) -> StorageError:
        if exc.errno == errno.ELOOP:
            return StorageError(
                f"cannot lock {self.path}: it is a symbolic link, which is never followed "
                f"for a lock file; remove it (`rm {self.path}`)"
            )
        return StorageError(f"cannot lock {self.path}: {exc.strerror or exc}")


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
