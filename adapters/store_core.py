"""What every credential store shares, written once: the file, keyring, encrypted and Redis stores.

- **Modes.** A credential file is ``FILE_MODE`` (0600) in a ``DIR_MODE`` (0700)
  directory; a file that can be read is at most ``MAX_FILE_BYTES``, opened with
  ``READ_FLAGS`` (no link followed, no wait on a FIFO).
- **The writers' lock** (``Exclusion``): held across processes (a ``flock``, a Redis
  lease) by one thread of ours at a time, re-entrant for that thread; another thread
  waits at most the lock timeout.
- **Waiting** (``wait_within``): a wait longer than ``WAIT_NOTICE_AFTER`` is announced
  once; the timeout is a one-line ``LockTimeout`` naming the lock, its holder when
  known, and the setting that changes the bound (``TIMEOUT_VARIABLE``). After
  ``stop_waiting()`` (Ctrl-C) a writer still waiting gives up within
  ``STOP_CHECK_EVERY``: nothing was sent or written yet. A commit's wait goes on: it
  holds tokens that must be saved.
- **The CODEX_HOME locks** (``HomeLocks``): ``auth.lock`` then ``auth.json.lock``, as
  the Codex CLI takes them whichever store it writes; the file, keyring and encrypted
  stores commit under both.
- **The commit** (``write_new``): a private temp file, written, fsynced, renamed over
  the old file, the directory fsynced: a crash or a failure leaves the old file or the
  new one, never a mix. Temp files left by a killed writer are removed by the next one
  that holds both locks (``remove_orphaned_temp_files``).
- **Fingerprints** (``file_identity``): one ``stat``; a rename gives a new inode, a
  rewrite in place a new ctime.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import attrs

from codex_login.adapters import os_flags
from codex_login.adapters.home_access import DESCRIPTORS, HomeAccess
from codex_login.adapters.lock_file import LockFile
from codex_login.adapters.lock_holders import describe_holders
from codex_login.adapters.owned_paths import (
    NO_FOLLOW,
    Owners,
    give_to_directory_owner,
)
from codex_login.domain.errors import LockTimeout, StorageError
from codex_login.domain.fields_repr import FieldsRepr

FILE_MODE = 0o600
DIR_MODE = 0o700
MAX_FILE_BYTES = 16 * 1024 * 1024
WAIT_NOTICE_AFTER = 1.0
STOP_CHECK_EVERY = 0.1  # how soon a waiting writer sees stop_waiting()
TIMEOUT_VARIABLE = "CODEX_LOGIN_LOCK_TIMEOUT"
WRITER_LOCK = "auth.lock"
COMMIT_LOCK = "auth.json.lock"

# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must
# not become ours. Neither changes how a regular file reads.
READ_FLAGS = os.O_RDONLY | os_flags.NONBLOCK | os_flags.NOCTTY | NO_FOLLOW
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW

Identity = tuple[int, int, int, int]
H = TypeVar("H")


def _log(message: str) -> None:
    import logging  # noqa: PLC0415  (rare: a read-only command never loads logging)

    logging.getLogger(__name__).info("%s", message)


def reason(exc: OSError) -> str:
    """An OSError in words, for a one-line message."""
    return exc.strerror or str(exc)


# -- the writers' lock -------------------------------------------------------------


class Exclusion(Generic[H]):
    """A lock across processes, taken by ``take`` (which returns what ``give_back``
    releases), held by one thread of ours at a time and re-entrant for it: a store
    used inside its own lock reuses the lock it holds. ``writing`` names what the
    lock guards, for the message of a thread that waited too long."""

    def __init__(
        self,
        take: Callable[[], H],
        give_back: Callable[[H], None],
        *,
        timeout: float,
        writing: object,
    ) -> None:
        self._take = take
        self._give_back = give_back
        self._timeout = timeout
        self._writing = writing
        # The lock across processes excludes other processes; this, other threads of ours.
        self._threads = threading.RLock()
        self.held: H | None = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if not self._threads.acquire(timeout=self._timeout):
            raise LockTimeout(
                f"gave up after {self._timeout:g} s waiting for another thread "
                f"writing {self._writing}"
            )
        try:
            if self.held is not None:  # this thread holds it already
                yield
                return
            held = self._take()
            self.held = held
            try:
                yield
            finally:
                self.held = None
                self._give_back(held)
        finally:
            self._threads.release()


@attrs.frozen(repr=False, eq=False)
class Wait(FieldsRepr):
    """How long to wait for a lock, whom to tell, and which variable changes the bound."""

    timeout: float
    notify: Callable[[str], None]
    variable: str | None = TIMEOUT_VARIABLE
    # False for a commit's wait: its tokens are in hand and must be saved.
    stoppable: bool = True


# Set by Ctrl-C in the command line (``stop_waiting``), cleared once its workers ended.
_stopped = threading.Event()


def stop_waiting() -> None:
    """Make every stoppable wait of this process give up (LockTimeout): the user
    interrupted, and a writer that has not taken its lock has done nothing yet."""
    _stopped.set()


def allow_waiting() -> None:
    """Let waits run to their bound again, once the interrupted command's workers ended
    (the command line may run in a longer process)."""
    _stopped.clear()


def wait_within(attempt: Callable[[float], bool], wait: Wait, holder: Callable[[], str]) -> None:
    """Take a lock with ``attempt(seconds)`` (True once taken; 0: one try) within
    ``wait.timeout`` seconds. A wait longer than WAIT_NOTICE_AFTER is announced once;
    ``holder()`` names the lock and who holds it, asked when a message needs it."""
    start = time.monotonic()
    notice_at = start + min(WAIT_NOTICE_AFTER, wait.timeout)
    _unless_stopped(wait)  # a worker that reaches its lock after the Ctrl-C does nothing
    if attempt(0.0) or _attempt_until(attempt, notice_at, wait):
        return
    deadline = start + wait.timeout
    if deadline > time.monotonic():
        bound = f" ({wait.variable} changes this)" if wait.variable else ""
        wait.notify(f"Waiting for {holder()}; giving up after {wait.timeout:g} s{bound}")
    if not _attempt_until(attempt, deadline, wait):
        advice = f"set {wait.variable} to wait longer" if wait.variable else "try again later"
        raise LockTimeout(f"gave up after {wait.timeout:g} s waiting for {holder()}; {advice}")


def _attempt_until(attempt: Callable[[float], bool], until: float, wait: Wait) -> bool:
    """``attempt`` until the monotonic moment ``until``: True once taken, False at
    ``until``; in slices short enough to see ``stop_waiting()`` when the wait may stop."""
    while True:
        _unless_stopped(wait)
        left = until - time.monotonic()
        step = min(left, STOP_CHECK_EVERY) if wait.stoppable else left
        if attempt(max(step, 0.0)):
            return True
        if left <= step:
            return False


def _unless_stopped(wait: Wait) -> None:
    if wait.stoppable and _stopped.is_set():
        raise LockTimeout("stopped waiting for a lock: interrupted")


@contextlib.contextmanager
def flock_held(lock: LockFile, wait: Wait) -> Iterator[None]:
    """Hold the ``flock`` ``lock`` for the block, waited for as ``wait`` says."""
    wait_within(lock.acquire, wait, lambda: f"{lock.path}{_held_by(lock.path)}")
    try:
        yield
    finally:
        lock.release()


def _held_by(path: Path) -> str:
    holders = describe_holders(path)
    return f", held by {holders}" if holders else ""


class HomeLocks:
    """CODEX_HOME's two locks: ``auth.lock`` (``exclusive``, bounded by
    ``writer_timeout``, its wait announced through ``notify``) and ``auth.json.lock``
    (``commit_lock``). One object per CODEX_HOME: two lock objects on one file would
    exclude each other."""

    def __init__(
        self,
        codex_home: Path,
        owners: Owners,
        *,
        guards: Path,
        writer_timeout: float,
        commit_timeout: float,
        notify: Callable[[str], None],
        access: HomeAccess = DESCRIPTORS,
    ) -> None:
        self.codex_home = codex_home
        self.owners = owners
        self.access = access
        self._commit_timeout = commit_timeout
        self._notify = notify
        self._writer = Wait(writer_timeout, notify)
        self._writer_lock: LockFile | None = None
        self._exclusion = Exclusion(
            self._take_writer, LockFile.release, timeout=writer_timeout, writing=guards
        )

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.lock``; re-entrant for the thread that holds it."""
        return self._exclusion.hold()

    def commit_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.json.lock``, the lock of a commit; take it inside ``exclusive()``."""
        lock = LockFile(
            self.codex_home, COMMIT_LOCK, self.owners, mode=FILE_MODE, access=self.access
        )
        return flock_held(lock, Wait(self._commit_timeout, self._notify, None, stoppable=False))

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        """``auth.lock`` then ``auth.json.lock``: what every writer of CODEX_HOME holds."""
        with self.exclusive(), self.commit_lock():
            yield

    def _take_writer(self) -> LockFile:
        if self._writer_lock is None:
            prepare_directory(self.codex_home, self.owners, access=self.access)
            self._writer_lock = LockFile(
                self.codex_home, WRITER_LOCK, self.owners, mode=FILE_MODE, access=self.access
            )
        lock = self._writer_lock
        wait_within(lock.acquire, self._writer, lambda: f"{lock.path}{_held_by(lock.path)}")
        return lock


def prepare_directory(directory: Path, owners: Owners, *, access: HomeAccess = DESCRIPTORS) -> None:
    """Make ``directory`` (and its parents) ``DIR_MODE``, or tighten ours to it."""
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {directory}: {reason(exc)}") from exc
    fd = open_home(directory, owners, access=access)
    try:
        access.make_private(fd, DIR_MODE, owners)
    except OSError as exc:
        raise StorageError(f"cannot make {directory} private: {reason(exc)}") from exc
    finally:
        access.close(fd)


def open_home(directory: Path, owners: Owners, *, access: HomeAccess = DESCRIPTORS) -> int:
    """``directory``, opened and checked; FileNotFoundError when it is missing."""
    try:
        return access.open_directory(directory, owners)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(f"cannot read {directory}: {reason(exc)}") from exc


# -- reading and fingerprints ----------------------------------------------------------


def read_capped(fd: int, path: Path, too_large: str) -> bytes:
    """At most MAX_FILE_BYTES of the open regular file ``fd``; more is an error
    saying ``too_large``."""
    try:
        with open(fd, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {reason(exc)}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise StorageError(f"cannot read {path}: {too_large}")
    return data


def stat_or_none(path: Path, *, follow_symlinks: bool = True) -> os.stat_result | None:
    """``path``'s stat (it never blocks, even on a FIFO); None when it is missing."""
    try:
        return os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {reason(exc)}") from exc


def identity(info: os.stat_result) -> Identity:
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def file_identity(path: Path) -> Identity | None:
    """A store's fingerprint of the file at ``path``: one stat; None when it is missing."""
    info = stat_or_none(path)
    return None if info is None else identity(info)


# -- the commit ------------------------------------------------------------------------


def new_temp_file(
    directory: int, path: Path, owners: Owners, prefix: str, *, access: HomeAccess = DESCRIPTORS
) -> tuple[int, str]:
    """A new private temp file in the open ``directory`` (``path``): its fd and name."""
    for _ in range(100):
        name = prefix + os.urandom(6).hex()
        try:
            fd = access.open(name, _TEMP_FLAGS, FILE_MODE, dir_fd=directory)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot write in {path}: {reason(exc)}") from exc
        try:
            give_to_directory_owner(fd, os.fstat(fd), access.fstat(directory), owners)
        except OSError as exc:
            os.close(fd)
            unlink_in(directory, name, path / name, access=access)
            raise StorageError(f"cannot write in {path}: {reason(exc)}") from exc
        return fd, name
    raise StorageError(f"cannot write in {path}: no free temp file name")


def replace_in(
    directory: int,
    path: Path,
    temp: tuple[int, str],
    name: str,
    data: bytes,
    *,
    access: HomeAccess = DESCRIPTORS,
) -> os.stat_result:
    """Write ``data`` into the new temp file ``temp`` (its fd and name, in the open
    ``directory`` at ``path``), fsync it, rename it over ``name`` and sync the
    directory: a crash leaves the old file or the new one. On failure the temp file is
    removed. Returns the new file's stat."""
    fd, temp_name = temp
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.truncate()  # a reserved file is longer than the record
            file.flush()
            os.fsync(file.fileno())
            info = os.fstat(file.fileno())
        access.replace(temp_name, name, dir_fd=directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            access.unlink(temp_name, dir_fd=directory)
        raise StorageError(f"cannot write {path / name}: {reason(exc)}") from exc
    fsync_directory(directory, path, access=access)
    return info


def write_new(
    directory: int,
    path: Path,
    name: str,
    data: bytes,
    *,
    owners: Owners,
    prefix: str,
    access: HomeAccess = DESCRIPTORS,
) -> os.stat_result:
    """Replace ``name`` in the open ``directory`` (``path``) with ``data``, atomically."""
    temp = new_temp_file(directory, path, owners, prefix, access=access)
    return replace_in(directory, path, temp, name, data, access=access)


def fsync_directory(directory: int, path: Path, *, access: HomeAccess = DESCRIPTORS) -> None:
    """Make the rename durable. Best effort: the rename has happened, so a failure
    here must not report the write as failed."""
    try:
        access.fsync(directory)
    except OSError as exc:
        _log(f"could not sync directory {path}: {reason(exc)}")


def unlink_in(directory: int, name: str, path: Path, *, access: HomeAccess = DESCRIPTORS) -> None:
    try:
        access.unlink(name, dir_fd=directory)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot delete {path}: {reason(exc)}") from exc


def orphaned_temp_files(
    directory: int | Path,
    owners: Owners,
    prefix: str,
    keep: str | None = None,
    *,
    access: HomeAccess = DESCRIPTORS,
) -> list[str]:
    """The names of the regular ``prefix*`` files of trusted owners in ``directory`` (a
    descriptor or a path), except ``keep``: ours, and those root in a container gave to
    the directory's owner. Links and other users' files are never listed: we must
    neither follow nor delete them.

    Every such file is an orphan only while both locks are held; without them, a file
    younger than the lock timeout may belong to a live writer."""
    try:
        if isinstance(directory, int):
            entries = list(access.scandir(directory))
        else:
            with os.scandir(directory) as scan:
                entries = list(scan)
    except OSError:
        return []
    orphans = []
    for entry in entries:
        if not entry.name.startswith(prefix) or entry.name == keep:
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and owners.trust(info.st_uid):
                orphans.append(entry.name)
    return orphans


def remove_orphaned_temp_files(
    fd: int,
    directory: Path,
    owners: Owners,
    prefix: str,
    keep: str | None = None,
    *,
    access: HomeAccess = DESCRIPTORS,
) -> None:
    """Delete temp files left by killed writers in the open ``directory``; call only
    while holding both locks. Best effort: a leftover we cannot remove must not fail
    the write."""
    for orphan in orphaned_temp_files(fd, owners, prefix, keep, access=access):
        try:
            access.unlink(orphan, dir_fd=fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            _log(f"could not remove the leftover temp file {directory / orphan}: {reason(exc)}")


# -- room for a commit -------------------------------------------------------------------


@attrs.frozen(repr=False, eq=False)
class Reserved(FieldsRepr):
    """A temp file holding room for the next commit: its directory (a descriptor of
    its own), the file's descriptor and name."""

    directory_fd: int
    fd: int
    name: str
    access: HomeAccess = DESCRIPTORS

    def matches(self, directory: int) -> bool:
        access = self.access
        return os.path.samestat(access.fstat(self.directory_fd), access.fstat(directory))

    def taken(self) -> tuple[int, str]:
        """The temp file's descriptor and name, for ``replace_in``: the commit's now."""
        self.access.close(self.directory_fd)
        return self.fd, self.name

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.access.unlink(self.name, dir_fd=self.directory_fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(OSError):
            self.access.close(self.directory_fd)


def reserve_room(
    directory: int,
    path: Path,
    owners: Owners,
    prefix: str,
    size: int,
    *,
    access: HomeAccess = DESCRIPTORS,
) -> Reserved:
    """A new temp file in the open ``directory`` (``path``) holding ``size`` bytes of
    disk, durably; StorageError, having left nothing behind, when there is no room."""
    try:
        fd, name = new_temp_file(directory, path, owners, prefix, access=access)
    except StorageError as exc:
        raise _no_room(path, size, exc) from exc
    reserved = Reserved(access.dup(directory), fd, name, access)
    try:
        _allocate(fd, size)
    except OSError as exc:
        reserved.discard()
        raise _no_room(path, size, reason(exc)) from exc
    return reserved


def _no_room(directory: Path, size: int, why: object) -> StorageError:
    return StorageError(
        f"cannot reserve {size // 1024} KiB in {directory} for the refreshed tokens "
        f"({why}); no refresh was sent, so the stored login is unchanged: "
        "free some space and try again"
    )


def _allocate(fd: int, size: int) -> None:
    """Give the open file ``size`` bytes of disk, durably; OSError (ENOSPC) otherwise."""
    if sys.platform == "linux":
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
            _write_zeros(fd, size)  # a file system without fallocate
    else:  # macOS and Windows have no posix_fallocate
        _write_zeros(fd, size)
    os.fsync(fd)


def _write_zeros(fd: int, size: int) -> None:
    """Write ``size`` zero bytes at the start of the open file."""
    if sys.platform == "win32":  # no pwrite: seek, then write until all is written
        os.lseek(fd, 0, os.SEEK_SET)
        data = memoryview(bytes(size))
        while data:
            data = data[os.write(fd, data) :]
    else:
        os.pwrite(fd, bytes(size), 0)
