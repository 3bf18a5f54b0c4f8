"""The auth.json credential store, safe to share with the Codex CLI.

Writers take ``auth.lock`` (bounded blocking wait), then ``auth.json.lock`` to
commit; both are ``flock(2)`` locks, as the Codex CLI takes them. A commit
writes a private temp file, fsyncs it, renames it over auth.json and fsyncs the
directory, so a crash leaves the old file or the new one, never a mix. A writer
killed before its rename leaves its temp file (``.auth-*``) behind, holding live
secrets: the next writer holding both locks, and every logout, removes it.

Readers take no lock, and read only a regular file of at most ``MAX_FILE_BYTES``:
a FIFO or a device at auth.json is an error, never a hang. filelock is imported
only by writers, to keep read-only commands fast.

Notices for the user (a writer waiting for a lock, a logout through a link) go to
the ``notify`` callable given to the store; by default they are logged at INFO.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from codex_login.adapters import auth_json
from codex_login.adapters.lock_holders import describe_holders
from codex_login.domain.errors import LockTimeout, StorageError
from codex_login.domain.record import CredentialRecord, Loaded

if TYPE_CHECKING:
    from filelock import BaseFileLock

AUTH_FILE = "auth.json"
WRITER_LOCK = "auth.lock"
COMMIT_LOCK = "auth.json.lock"
TEMP_PREFIX = ".auth-"  # shared with the Codex CLI's temp files
FILE_MODE = 0o600
DIR_MODE = 0o700
MAX_FILE_BYTES = 16 * 1024 * 1024
WAIT_NOTICE_AFTER = 1.0
TIMEOUT_VARIABLE = "CODEX_LOGIN_LOCK_TIMEOUT"

# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must
# not become ours. Neither changes how a regular file reads.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link loop"),
)


def _log_notice(message: str) -> None:
    import logging  # noqa: PLC0415  (rare: only under contention or for links)

    logging.getLogger(__name__).info("%s", message)


class FileCredentialStore:
    """Credentials in ``<codex_home>/auth.json``.

    ``notify`` receives one-line notices meant for the user; by default they are
    logged at INFO.
    """

    def __init__(
        self,
        codex_home: Path,
        *,
        writer_lock_timeout: float = 90.0,
        commit_lock_timeout: float = 10.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / AUTH_FILE
        self._writer_timeout = writer_lock_timeout
        self._commit_timeout = commit_lock_timeout
        self._notify = notify or _log_notice
        self._writer_lock: BaseFileLock | None = None
        # flock excludes other processes; this excludes other threads of ours.
        self._owner = threading.RLock()

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> Loaded | None:
        data = _read_regular_file(self.path)
        return None if data is None else auth_json.decode(data, self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.exclusive(), self.commit_lock():
            self._commit(data)

    def delete(self) -> bool:
        """Log out: remove auth.json (through a link, its target too) and orphaned
        temp files. True when credentials were removed."""
        if _mode_of(self.path) is None and not _orphaned_temp_files(self.codex_home):
            return False  # nothing to delete: don't create CODEX_HOME or lock files for it
        with self.exclusive(), self.commit_lock():
            return self.remove_held()

    def fingerprint(self) -> Hashable:
        try:
            info = os.stat(self.path)  # stat never blocks, even on a FIFO
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {_reason(exc)}") from exc
        return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold ``auth.lock``; re-entrant for the thread that holds it."""
        if not self._owner.acquire(timeout=self._writer_timeout):
            raise LockTimeout(
                f"gave up after {self._writer_timeout:g} s waiting for another thread "
                f"writing {self.path}"
            )
        try:
            wait = _Wait(self._writer_timeout, self._notify, TIMEOUT_VARIABLE)
            with _held(self._writer(), wait):
                yield
        finally:
            self._owner.release()

    # -- internals ---------------------------------------------------------

    def _writer(self) -> BaseFileLock:
        if self._writer_lock is None:
            self._prepare_home()
            self._writer_lock = _file_lock(self.codex_home / WRITER_LOCK)
        return self._writer_lock

    def commit_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.json.lock``, the lock of a commit; take it inside ``exclusive()``.

        The keyring stores commit under it too: the Codex CLI takes both locks
        whichever store it writes, so every writer excludes every other.
        """
        lock = _file_lock(self.codex_home / COMMIT_LOCK)
        return _held(lock, _Wait(self._commit_timeout, self._notify, None))

    def _prepare_home(self) -> None:
        try:
            self.codex_home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            _tighten_directory(self.codex_home)
        except OSError as exc:
            raise StorageError(f"cannot create {self.codex_home}: {_reason(exc)}") from exc

    def _target(self) -> Path:
        """Where the credentials really are: a symlinked auth.json (dotfiles) stays a
        link, and like the Codex CLI we write and delete its target."""
        return Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path

    def _refuse_special_target(self, target: Path, action: str) -> int | None:
        """The target's mode, or None when it is missing; anything but a regular file
        is refused before anything changes."""
        mode = _mode_of(target)
        if mode is not None and not stat.S_ISREG(mode):
            raise _not_a_file(self.path, mode, action)
        return mode

    def _commit(self, data: bytes) -> None:
        import tempfile  # noqa: PLC0415  (writers only)

        target = self._target()
        self._refuse_special_target(target, "replace")
        try:
            fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        except OSError as exc:
            raise StorageError(f"cannot write in {target.parent}: {_reason(exc)}") from exc
        # We hold both locks: no live writer, ours or the Codex CLI's, owns a temp file.
        _remove_orphaned_temp_files(target.parent, keep=Path(temp_name).name)
        replace_with_temp(fd, temp_name, target, data)

    def remove_held(self) -> bool:
        """Delete auth.json where it really is, then a link to it; the caller holds
        ``exclusive()`` and ``commit_lock()`` (a keyring save removes the file this way)."""
        mode = _mode_of(self.path)
        target = self._target()
        target_mode = self._refuse_special_target(target, "delete")
        for directory in dict.fromkeys((self.codex_home, target.parent)):
            _remove_orphaned_temp_files(directory)
        if mode is None:
            return False
        if target != self.path and target_mode is not None:
            _unlink(target)
            _fsync_directory(target.parent)
        _unlink(self.path)
        _fsync_directory(self.codex_home)
        if stat.S_ISLNK(mode):
            self._notify(_link_removed(self.path, target, target_mode is not None))
        return True


def _link_removed(link: Path, target: Path, target_existed: bool) -> str:
    if target_existed:
        return f"Removed {target} ({link.name} was a link to it) and the link {link}"
    return f"Removed the link {link} (it pointed to {target}, which does not exist)"


# -- reading -------------------------------------------------------------------


def _read_regular_file(path: Path) -> bytes | None:
    """The bytes of ``path``, or None when it is missing. Only a regular file of at
    most MAX_FILE_BYTES is read; opening and reading never block."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_a_file(path, mode, "read")
        with open(fd, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {_reason(exc)}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise StorageError(
            f"cannot read {path}: it is larger than {MAX_FILE_BYTES // 2**20} MiB; "
            "it cannot be a credential file"
        )
    return data


def _unreadable(path: Path, exc: OSError) -> StorageError:
    """Why ``path`` cannot be opened; a socket, say, fails with "No such device or
    address", so say what it is instead when it is not a regular file."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            return _not_a_file(path, mode, "read")
    return StorageError(f"cannot read {path}: {_reason(exc)}")


def _not_a_file(path: Path, mode: int, action: str) -> StorageError:
    kind = next((words for is_kind, words in _KINDS if is_kind(mode)), "a special file")
    shown = f"{path} (a link to {os.path.realpath(path)})" if path.is_symlink() else str(path)
    return StorageError(f"cannot {action} {shown}: it is {kind}, not a file")


def _mode_of(path: Path) -> int | None:
    """The file type and mode of ``path`` itself (a link is not followed), or None
    when it is missing."""
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot reach {path}: {_reason(exc)}") from exc


# -- orphaned temp files -----------------------------------------------------------


def _orphaned_temp_files(directory: Path, keep: str | None = None) -> list[Path]:
    """Our regular ``.auth-*`` files in ``directory``, except ``keep``. Links and other
    users' files are never listed: we must neither follow nor delete them.

    Every such file is an orphan only while both locks are held; without them, a file
    younger than the lock timeout may belong to a live writer."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    orphans = []
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or entry.name == keep:
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                orphans.append(Path(entry.path))
    return orphans


def _remove_orphaned_temp_files(directory: Path, keep: str | None = None) -> None:
    """Delete temp files left by killed writers; call only while holding both locks.
    Best effort: a leftover we cannot remove must not fail the write."""
    for orphan in _orphaned_temp_files(directory, keep):
        try:
            os.unlink(orphan)
        except FileNotFoundError:
            continue
        except OSError as exc:
            _log_notice(f"could not remove the leftover temp file {orphan}: {_reason(exc)}")


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot delete {path}: {_reason(exc)}") from exc


# -- locks ---------------------------------------------------------------------


@attrs.frozen
class _Wait:
    """How long to wait for a lock, whom to tell, and which variable changes the bound."""

    timeout: float
    notify: Callable[[str], None]
    variable: str | None


def _file_lock(path: Path) -> BaseFileLock:
    from filelock import UnixFileLock  # noqa: PLC0415  (writers only; keeps reads fast)

    return UnixFileLock(path, mode=FILE_MODE, thread_local=False, fallback_to_soft=False)


@contextlib.contextmanager
def _held(lock: BaseFileLock, wait: _Wait) -> Iterator[None]:
    try:
        _acquire(lock, wait)
    except OSError as exc:
        raise StorageError(f"cannot lock {lock.lock_file}: {_reason(exc)}") from exc
    try:
        _tighten_file(Path(lock.lock_file))
        yield
    finally:
        lock.release()


def _acquire(lock: BaseFileLock, wait: _Wait) -> None:
    """Take ``lock`` within ``wait.timeout`` seconds. A wait longer than
    WAIT_NOTICE_AFTER is announced once, naming the holder when the OS tells."""
    from filelock import Timeout  # noqa: PLC0415

    deadline = time.monotonic() + wait.timeout
    if _acquired(lock, 0.0) or _acquired(lock, min(WAIT_NOTICE_AFTER, wait.timeout)):
        return
    path = Path(lock.lock_file)
    remaining = deadline - time.monotonic()
    if remaining > 0:
        bound = f" ({wait.variable} changes this)" if wait.variable else ""
        wait.notify(
            f"Waiting for {path}{_held_by(path)}; giving up after {wait.timeout:g} s{bound}"
        )
    try:
        lock.acquire(timeout=max(remaining, 0.0))  # a negative timeout would wait forever
    except Timeout as exc:
        advice = f"set {wait.variable} to wait longer" if wait.variable else "try again later"
        raise LockTimeout(
            f"gave up after {wait.timeout:g} s waiting for {path}{_held_by(path)}; {advice}"
        ) from exc


def _acquired(lock: BaseFileLock, timeout: float) -> bool:
    """Whether ``lock`` was taken within ``timeout`` seconds (0: one attempt)."""
    from filelock import Timeout  # noqa: PLC0415

    try:
        lock.acquire(timeout=timeout, blocking=timeout > 0)
    except Timeout:
        return False
    return True


def _held_by(path: Path) -> str:
    holders = describe_holders(path)
    return f", held by {holders}" if holders else ""


# -- modes and durability ----------------------------------------------------------


def _tighten_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.stat(path).st_mode) != FILE_MODE:
            os.chmod(path, FILE_MODE)


def _tighten_directory(path: Path) -> None:
    """Make our own CODEX_HOME private; never touch a shared directory like /tmp."""
    info = os.stat(path)
    shared = info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid()
    if not shared and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, DIR_MODE)


def replace_with_temp(fd: int, temp_name: str, target: Path, data: bytes) -> None:
    """Write ``data`` into the new temp file ``fd`` (named ``temp_name``, beside
    ``target``), fsync it, rename it over ``target`` and sync the directory: a crash
    leaves the old file or the new one. On failure the temp file is removed."""
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise StorageError(f"cannot write {target}: {_reason(exc)}") from exc
    _fsync_directory(target.parent)


def _fsync_directory(path: Path) -> None:
    """Make the rename durable. Best effort: the rename has happened, so a failure
    here must not report the write as failed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        _log_notice(f"could not sync directory {path}: {_reason(exc)}")
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
