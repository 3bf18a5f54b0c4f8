"""The auth.json credential store, safe to share with the Codex CLI.

Writers take ``auth.lock`` (bounded blocking wait), then ``auth.json.lock`` to
commit; both are ``flock(2)`` locks, as the Codex CLI takes them. A commit
writes a private temp file, fsyncs it, renames it over auth.json and fsyncs the
directory, so a crash leaves the old file or the new one, never a mix.
Readers take no lock. filelock is imported only by writers, to keep read-only
commands fast.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters import auth_json
from codex_login.domain.errors import LockTimeout, StorageError
from codex_login.domain.record import CredentialRecord, Loaded

if TYPE_CHECKING:
    from filelock import BaseFileLock

AUTH_FILE = "auth.json"
WRITER_LOCK = "auth.lock"
COMMIT_LOCK = "auth.json.lock"
FILE_MODE = 0o600
DIR_MODE = 0o700


class FileCredentialStore:
    """Credentials in ``<codex_home>/auth.json``."""

    def __init__(
        self,
        codex_home: Path,
        *,
        writer_lock_timeout: float = 90.0,
        commit_lock_timeout: float = 10.0,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / AUTH_FILE
        self._writer_timeout = writer_lock_timeout
        self._commit_timeout = commit_lock_timeout
        self._writer_lock: BaseFileLock | None = None
        # flock excludes other processes; this excludes other threads of ours.
        self._owner = threading.RLock()

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> Loaded | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise StorageError(f"cannot read {self.path}: it is a directory, not a file") from None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {_reason(exc)}") from None
        return auth_json.decode(data, self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.exclusive(), self._commit_lock():
            self._commit(data)

    def delete(self) -> bool:
        try:
            os.lstat(self.path)
        except FileNotFoundError:
            return False  # nothing to delete: don't create CODEX_HOME or lock files for it
        except OSError as exc:
            raise StorageError(f"cannot reach {self.path}: {_reason(exc)}") from None
        with self.exclusive(), self._commit_lock():
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise StorageError(f"cannot delete {self.path}: {_reason(exc)}") from None
            _fsync_directory(self.codex_home)
        return True

    def fingerprint(self) -> Hashable:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {_reason(exc)}") from None
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
            with _held(self._writer(), self._writer_timeout, "another process"):
                yield
        finally:
            self._owner.release()

    # -- internals ---------------------------------------------------------

    def _writer(self) -> BaseFileLock:
        if self._writer_lock is None:
            self._prepare_home()
            self._writer_lock = _file_lock(self.codex_home / WRITER_LOCK)
        return self._writer_lock

    def _commit_lock(self) -> contextlib.AbstractContextManager[None]:
        lock = _file_lock(self.codex_home / COMMIT_LOCK)
        return _held(lock, self._commit_timeout, "a process committing auth.json")

    def _prepare_home(self) -> None:
        try:
            self.codex_home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            _tighten_directory(self.codex_home)
        except OSError as exc:
            raise StorageError(f"cannot create {self.codex_home}: {_reason(exc)}") from None

    def _commit(self, data: bytes) -> None:
        import tempfile  # noqa: PLC0415  (writers only)

        # A symlinked auth.json (dotfiles) stays a link: like the Codex CLI, write its target.
        target = Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path
        try:
            fd, temp_name = tempfile.mkstemp(prefix=".auth-", dir=target.parent)
        except OSError as exc:
            raise StorageError(f"cannot write in {target.parent}: {_reason(exc)}") from None
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise StorageError(f"cannot write {target}: {_reason(exc)}") from None
        _fsync_directory(target.parent)


def _file_lock(path: Path) -> BaseFileLock:
    from filelock import UnixFileLock  # noqa: PLC0415  (writers only; keeps reads fast)

    return UnixFileLock(path, mode=FILE_MODE, thread_local=False, fallback_to_soft=False)


@contextlib.contextmanager
def _held(lock: BaseFileLock, timeout: float, holder: str) -> Iterator[None]:
    from filelock import Timeout  # noqa: PLC0415

    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            import logging  # noqa: PLC0415  (only under contention)

            logging.getLogger(__name__).info(
                "waiting up to %g s for %s, held by %s", timeout, lock.lock_file, holder
            )
            lock.acquire(timeout=timeout)
    except Timeout:
        raise LockTimeout(
            f"gave up after {timeout:g} s waiting for {lock.lock_file}, held by {holder}; "
            "try again when it has finished"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot lock {lock.lock_file}: {_reason(exc)}") from None
    try:
        _tighten_file(Path(lock.lock_file))
        yield
    finally:
        lock.release()


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
        import logging  # noqa: PLC0415  (rare)

        logging.getLogger(__name__).info("could not sync directory %s: %s", path, _reason(exc))
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
