"""How the file store reaches the names in a checked directory: by descriptor, or by path.

A store holds a checked directory as an ``int`` handle and does everything in it
through a ``HomeAccess``:

- ``Descriptors`` (POSIX, the default): the handle is a directory descriptor, opened
  once and ``fstat``-checked (``owned_paths.open_directory``); names are opened,
  stat'ed, renamed and removed relative to it (``dir_fd``), so no link or rename of a
  directory between a check and a use can swap what is used.
- ``Paths`` (native Windows, which opens no directory with ``os.open`` and has no
  ``dir_fd``): the handle is a key naming the checked directory's path (a negative
  number, so a descriptor call given one fails with EBADF rather than reaching some
  file); names are joined to that path. The directory is checked by path when it is
  opened, and what is opened in it is still ``fstat``-checked through the file's own
  descriptor; what a path cannot give is the guarantee that the directory checked is
  the directory used: a directory renamed or swapped for a link between the check and
  the use is not noticed (docs/platforms.md, "Windows"). A directory is not fsynced
  (Windows opens none to do it); ``os.replace`` is MoveFileEx's atomic replace there,
  tried again for a moment while a reader keeps it out (``_while_shared``).

``for_platform()`` picks ``Paths`` on Windows, ``Descriptors`` elsewhere; a store can
be given ``Paths`` on Linux too, which is how the tests run the path variant for real.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from codex_login.adapters.owned_paths import (
    Owners,
    check_directory,
    make_private,
    open_directory,
)

# How long a rename or delete waits for readers that keep others from it (Windows only).
SHARING_WAIT = 1.0
SHARING_POLL = 0.01


class HomeAccess(Protocol):
    """The directory operations of the file store, on a checked directory's handle."""

    def open_directory(self, path: Path, owners: Owners, *, parent: int | None = None) -> int:
        """``path``, checked (``owned_paths.check_directory``); a handle on it. With
        ``parent``, ``path.name`` in that directory, a link there not followed.
        OSError (FileNotFoundError) when it cannot be opened."""
        ...

    def open(self, name: str, flags: int, mode: int = 0o777, *, dir_fd: int) -> int:
        """A descriptor of the file ``name`` in the directory ``dir_fd``."""
        ...

    def lstat(self, name: str, *, dir_fd: int) -> os.stat_result:
        """``name`` in ``dir_fd``, a link not followed."""
        ...

    def fstat(self, directory: int) -> os.stat_result: ...

    def unlink(self, name: str, *, dir_fd: int) -> None: ...

    def replace(self, source: str, target: str, *, dir_fd: int) -> None:
        """Rename ``source`` over ``target``, both in ``dir_fd``, atomically."""
        ...

    def fsync(self, directory: int) -> None:
        """Make the renames in ``directory`` durable (OSError when it cannot)."""
        ...

    def scandir(self, directory: int) -> Iterator[os.DirEntry[str]]: ...

    def make_private(self, directory: int, mode: int, owners: Owners) -> None:
        """Tighten our own directory to ``mode``; another owner's is left as it is."""
        ...

    def mkdir(self, name: str, mode: int, *, dir_fd: int) -> None:
        """Make the directory ``name`` in ``dir_fd`` (FileExistsError when it is there)."""
        ...

    def dup(self, directory: int) -> int: ...

    def close(self, directory: int) -> None: ...


class Descriptors:
    """Directory descriptors and ``dir_fd``: what POSIX gives (see the module's doc)."""

    def open_directory(self, path: Path, owners: Owners, *, parent: int | None = None) -> int:
        return open_directory(path, owners, parent=parent)

    def open(self, name: str, flags: int, mode: int = 0o777, *, dir_fd: int) -> int:
        return os.open(name, flags, mode, dir_fd=dir_fd)

    def lstat(self, name: str, *, dir_fd: int) -> os.stat_result:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)

    def fstat(self, directory: int) -> os.stat_result:
        return os.fstat(directory)

    def unlink(self, name: str, *, dir_fd: int) -> None:
        os.unlink(name, dir_fd=dir_fd)

    def replace(self, source: str, target: str, *, dir_fd: int) -> None:
        os.replace(source, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

    def fsync(self, directory: int) -> None:
        os.fsync(directory)

    def scandir(self, directory: int) -> Iterator[os.DirEntry[str]]:
        with os.scandir(directory) as scan:
            yield from scan

    def make_private(self, directory: int, mode: int, owners: Owners) -> None:
        make_private(directory, os.fstat(directory), mode, owners)

    def mkdir(self, name: str, mode: int, *, dir_fd: int) -> None:
        os.mkdir(name, mode, dir_fd=dir_fd)

    def dup(self, directory: int) -> int:
        return os.dup(directory)

    def close(self, directory: int) -> None:
        os.close(directory)


DESCRIPTORS = Descriptors()


class Paths:
    """Checked directories named by path: what native Windows allows (see the module's
    doc). One object per store; its handles mean nothing to another."""

    def __init__(self) -> None:
        self._paths: dict[int, Path] = {}
        self._keys = itertools.count(-2, -1)  # never a descriptor; -1 is "none" to many calls
        self._guard = threading.Lock()

    def open_directory(self, path: Path, owners: Owners, *, parent: int | None = None) -> int:
        if parent is None:
            info = os.stat(path)  # followed: a CODEX_HOME may be a link, as on POSIX
        else:
            path = self.path(parent) / path.name
            info = os.stat(path, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        check_directory(info, path, owners)
        return self._register(path)

    def open(self, name: str, flags: int, mode: int = 0o777, *, dir_fd: int) -> int:
        return os.open(self.path(dir_fd) / name, flags, mode)

    def lstat(self, name: str, *, dir_fd: int) -> os.stat_result:
        return os.stat(self.path(dir_fd) / name, follow_symlinks=False)

    def fstat(self, directory: int) -> os.stat_result:
        return os.stat(self.path(directory))

    def unlink(self, name: str, *, dir_fd: int) -> None:
        path = self.path(dir_fd) / name
        _while_shared(lambda: os.unlink(path))

    def replace(self, source: str, target: str, *, dir_fd: int) -> None:
        directory = self.path(dir_fd)
        _while_shared(lambda: os.replace(directory / source, directory / target))

    def fsync(self, directory: int) -> None:
        self.path(directory)  # a directory cannot be opened to be synced on Windows

    def scandir(self, directory: int) -> Iterator[os.DirEntry[str]]:
        with os.scandir(self.path(directory)) as scan:
            yield from scan

    def make_private(self, directory: int, mode: int, owners: Owners) -> None:
        if sys.platform == "win32":  # modes are ACLs there, inherited (docs/platforms.md)
            return
        else:  # the path variant forced on POSIX (the tests): by path, as Windows would
            path = self.path(directory)
            info = os.stat(path)
            if info.st_uid == owners.euid and stat.S_IMODE(info.st_mode) != mode:
                os.chmod(path, mode)

    def mkdir(self, name: str, mode: int, *, dir_fd: int) -> None:
        os.mkdir(self.path(dir_fd) / name, mode)

    def dup(self, directory: int) -> int:
        return self._register(self.path(directory))

    def close(self, directory: int) -> None:
        with self._guard:
            if self._paths.pop(directory, None) is None:
                raise _bad_handle(directory)

    def path(self, directory: int) -> Path:
        """The directory a handle names; OSError (EBADF) for a handle not open here."""
        with self._guard:
            found = self._paths.get(directory)
        if found is None:
            raise _bad_handle(directory)
        return found

    def _register(self, path: Path) -> int:
        with self._guard:
            key = next(self._keys)
            self._paths[key] = path
        return key


def _while_shared(change: Callable[[], None]) -> None:
    """``change()`` (a rename over a file, a delete). On Windows a process that has the
    file open without FILE_SHARE_DELETE, as Python's ``open`` opens it (a reader here, who
    takes no lock), makes both fail with a PermissionError while it reads: tried again
    every SHARING_POLL within SHARING_WAIT before the error is the answer."""
    if sys.platform == "win32":
        deadline = time.monotonic() + SHARING_WAIT
        while True:
            try:
                change()
            except PermissionError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(SHARING_POLL)
            else:
                return
    else:
        change()


def for_platform() -> HomeAccess:
    """``Paths`` on native Windows, ``Descriptors`` elsewhere."""
    if sys.platform == "win32":
        return Paths()
    else:
        return DESCRIPTORS


def _bad_handle(directory: int) -> OSError:
    return OSError(errno.EBADF, os.strerror(errno.EBADF), f"directory handle {directory}")
