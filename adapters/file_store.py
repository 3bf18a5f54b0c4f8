"""The auth.json credential store, safe to share with the Codex CLI.

Writers take ``auth.lock`` (bounded blocking wait), then ``auth.json.lock`` to
commit; both are ``flock(2)`` locks, as the Codex CLI takes them. A commit
writes a private temp file, fsyncs it, renames it over auth.json and fsyncs the
directory, so a crash leaves the old file or the new one, never a mix. A writer
killed before its rename leaves its temp file (``.auth-*``) behind, holding live
secrets: the next writer holding both locks, and every logout, removes it.

Before a refresh spends the refresh token, ``reserve`` creates the commit's temp file
and allocates room in it (the record's size plus a margin, fsynced): on a full disk
the refresh is refused before anything is sent, and the commit writes into room it
already holds, so rotated tokens are never lost for want of space.

Readers take no lock, and read only a regular file of at most ``MAX_FILE_BYTES``:
a FIFO or a device at auth.json is an error, never a hang.

Whose files (``owned_paths``): CODEX_HOME must belong to the user and be writable
by nobody else, auth.json and the lock files must belong to the user, as ssh wants
of ~/.ssh. Every file is opened relative to a descriptor of its checked directory
with ``O_NOFOLLOW``. A symlinked auth.json (dotfiles) is followed only when the link
is the user's and the target's directory passes the same check; the target is then
read, replaced and deleted relative to that directory's descriptor.

Notices for the user (a writer waiting for a lock, a logout through a link) go to
the ``notify`` callable given to the store; by default they are logged at INFO.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

import attrs

from codex_login.adapters import auth_json
from codex_login.adapters.lock_file import LockFile
from codex_login.adapters.lock_holders import describe_holders
from codex_login.adapters.owned_paths import (
    NO_FOLLOW,
    Owners,
    check_file,
    check_link,
    give_to_directory_owner,
    make_private,
    open_directory,
    resolve_links,
)
from codex_login.domain.errors import LockTimeout, StorageError, UntrustedPath
from codex_login.domain.record import CredentialRecord, Loaded

AUTH_FILE = "auth.json"
WRITER_LOCK = "auth.lock"
COMMIT_LOCK = "auth.json.lock"
TEMP_PREFIX = ".auth-"  # shared with the Codex CLI's temp files
FILE_MODE = 0o600
DIR_MODE = 0o700
MAX_FILE_BYTES = 16 * 1024 * 1024
WAIT_NOTICE_AFTER = 1.0
# Room reserved beyond the current record's size: rotated tokens may be longer.
RESERVE_MARGIN = 64 * 1024
TIMEOUT_VARIABLE = "CODEX_LOGIN_LOCK_TIMEOUT"

# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must
# not become ours. Neither changes how a regular file reads.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | NO_FOLLOW
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW

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


@attrs.frozen
class _Reserved:
    """A temp file holding room for the next commit: its directory (a descriptor of
    its own), the file's descriptor and name."""

    directory_fd: int
    fd: int
    name: str

    def matches(self, directory: int) -> bool:
        return os.path.samestat(os.fstat(self.directory_fd), os.fstat(directory))

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.name, dir_fd=self.directory_fd)
        for fd in (self.fd, self.directory_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


@attrs.frozen
class _Place:
    """Where auth.json really is: ``name`` in ``directory`` (open as ``fd``, checked), or
    None as ``fd`` when that directory does not exist. ``link``: the user's auth.json
    link that leads there."""

    directory: Path
    fd: int | None
    name: str
    link: Path | None = None

    @property
    def path(self) -> Path:
        return self.directory / self.name


class FileCredentialStore:
    """Credentials in ``<codex_home>/auth.json``.

    ``notify`` receives one-line notices meant for the user; by default they are
    logged at INFO. ``owners``: whose directories and files are used (default: the
    effective uid and root; ``owned_paths``).
    """

    def __init__(
        self,
        codex_home: Path,
        *,
        writer_lock_timeout: float = 90.0,
        commit_lock_timeout: float = 10.0,
        notify: Callable[[str], None] | None = None,
        owners: Owners | None = None,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / AUTH_FILE
        self.owners = owners or Owners()
        self._writer_timeout = writer_lock_timeout
        self._commit_timeout = commit_lock_timeout
        self._notify = notify or _log_notice
        self._writer_lock: LockFile | None = None
        self._reserved: _Reserved | None = None  # set by reserve(), used by the next commit
        # flock excludes other processes; this excludes other threads of ours.
        self._owner = threading.RLock()

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> Loaded | None:
        with self._located(create=False) as located:
            data = None if located is None else self._read(located[1])
        return None if data is None else auth_json.decode(data, self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.exclusive(), self.commit_lock():
            self._commit(data)

    @contextlib.contextmanager
    def reserve(self, record: CredentialRecord) -> Iterator[None]:
        """Hold room for the commit of ``record`` (plus RESERVE_MARGIN) until the block
        ends; the next ``save`` in the block writes into it. Raises StorageError, having
        changed nothing, when the room cannot be had (a full disk)."""
        size = len(auth_json.encode(record)) + RESERVE_MARGIN
        with self.exclusive():
            self._reserved = self._reserve(size)
            try:
                yield
            finally:
                reserved, self._reserved = self._reserved, None
                if reserved is not None:
                    reserved.discard()

    def check_writable(self) -> None:
        """Make CODEX_HOME, then create and remove a temp file where auth.json is
        written: StorageError names the directory that cannot be made or written."""
        with self._writable() as (place, directory):
            fd, name = _new_temp_file(directory, place.directory, self.owners)
            os.close(fd)
            _unlink_in(directory, name, place.directory / name)

    def delete(self) -> bool:
        """Log out: remove auth.json (through a link, its target too) and orphaned
        temp files. True when credentials were removed."""
        if _mode_of(self.path) is None and not _orphaned_temp_files(self.codex_home, self.owners):
            return False  # nothing to delete: don't create CODEX_HOME or lock files for it
        with self.exclusive(), self.commit_lock():
            return self.remove_held()

    def fingerprint(self) -> Hashable:
        # The hot path: one stat. A change is re-read by load(), which checks everything.
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

    def commit_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.json.lock``, the lock of a commit; take it inside ``exclusive()``.

        The keyring stores commit under it too: the Codex CLI takes both locks
        whichever store it writes, so every writer excludes every other.
        """
        lock = LockFile(self.codex_home, COMMIT_LOCK, self.owners)
        return _held(lock, _Wait(self._commit_timeout, self._notify, None))

    def remove_held(self) -> bool:
        """Delete auth.json where it really is, then a link to it; the caller holds
        ``exclusive()`` and ``commit_lock()`` (a keyring save removes the file this way)."""
        with self._located(create=True) as located:
            assert located is not None  # noqa: S101  (create=True)
            return self._remove(*located)

    # -- internals ---------------------------------------------------------

    def _writer(self) -> LockFile:
        if self._writer_lock is None:
            self._prepare_home()
            self._writer_lock = LockFile(self.codex_home, WRITER_LOCK, self.owners)
        return self._writer_lock

    def _prepare_home(self) -> None:
        try:
            self.codex_home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.codex_home}: {_reason(exc)}") from exc
        fd = self._open_home()
        try:
            make_private(fd, os.fstat(fd), DIR_MODE, self.owners)
        except OSError as exc:
            raise StorageError(f"cannot make {self.codex_home} private: {_reason(exc)}") from exc
        finally:
            os.close(fd)

    def _open_home(self) -> int:
        """CODEX_HOME, opened and checked; FileNotFoundError when it is missing."""
        try:
            return open_directory(self.codex_home, self.owners)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {self.codex_home}: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def _located(self, *, create: bool) -> Iterator[tuple[int, _Place] | None]:
        """CODEX_HOME's descriptor and where auth.json is, both directories open and
        checked for the block; None when CODEX_HOME is missing (``create``: it is made,
        as a writer makes it)."""
        if create:
            self._prepare_home()
        try:
            home = self._open_home()
        except FileNotFoundError:
            yield None
            return
        place = None
        try:
            place = self._follow(home)
            yield home, place
        finally:
            if place is not None and place.fd is not None and place.fd != home:
                os.close(place.fd)
            os.close(home)

    def _follow(self, home: int) -> _Place:
        """auth.json in CODEX_HOME, or through the user's own link, the target in its
        checked directory: every link on the way (a chain of them included), the
        target's directory and (when read or replaced) the target file must all be the
        user's."""
        here = _Place(self.codex_home, home, AUTH_FILE)
        info = _lstat_in(home, AUTH_FILE, self.path)
        if info is None or not stat.S_ISLNK(info.st_mode):
            return here
        check_link(info, self.path, self.owners)
        try:
            target = resolve_links(self.path, self.owners)
        except UntrustedPath as exc:
            raise UntrustedPath(f"refusing to follow {self.path}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot follow {self.path}: {_reason(exc)}") from exc
        try:
            fd = open_directory(target.parent, self.owners)
        except UntrustedPath as exc:
            raise UntrustedPath(f"refusing to follow {self.path} to {target}: {exc}") from exc
        except FileNotFoundError:
            fd = None  # a dangling link: there is nothing to read or delete there
        except OSError as exc:
            raise StorageError(f"cannot reach {target.parent}: {_reason(exc)}") from exc
        return _Place(target.parent, fd, target.name, link=self.path)

    def _read(self, place: _Place) -> bytes | None:
        if place.fd is None:
            return None
        fd = self._open_for_reading(place)
        if fd is None:
            return None
        try:
            return _read_capped(fd, self.path)
        finally:
            os.close(fd)

    def _open_for_reading(self, place: _Place) -> int | None:
        """auth.json at ``place``, opened without following a link and checked: a regular
        file of a trusted owner that nobody else can write; None when it is missing."""
        assert place.fd is not None  # noqa: S101
        try:
            fd = os.open(place.name, _READ_FLAGS, dir_fd=place.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unopenable(place, exc, "read") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _not_a_file(self.path, info.st_mode, "read")
            check_file(info, place.path, self.owners, private=True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _unopenable(self, place: _Place, exc: OSError, action: str) -> StorageError:
        """Why auth.json cannot be opened; a socket, say, fails with "No such device or
        address", so say what it is instead when it is not a regular file."""
        info = _lstat_in(place.fd, place.name, place.path)
        if info is not None and not stat.S_ISREG(info.st_mode):
            return _not_a_file(self.path, info.st_mode, action)
        return StorageError(f"cannot {action} {self.path}: {_reason(exc)}")

    def _existing(self, place: _Place, action: str) -> os.stat_result | None:
        """The file at ``place`` (not followed), refused unless a regular file of a
        trusted owner; None when it is missing."""
        if place.fd is None:
            return None
        info = _lstat_in(place.fd, place.name, place.path)
        if info is None:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise _not_a_file(self.path, info.st_mode, action)
        check_file(info, place.path, self.owners, private=False)
        return info

    @contextlib.contextmanager
    def _writable(self) -> Iterator[tuple[_Place, int]]:
        """Where auth.json is written (CODEX_HOME made when missing) and that
        directory's descriptor; StorageError when a link leads to a missing directory."""
        with self._located(create=True) as located:
            assert located is not None  # noqa: S101  (create=True)
            place = located[1]
            if place.fd is None:
                raise StorageError(
                    f"cannot write in {place.directory}: it does not exist "
                    f"({self.path} is a link to {place.path})"
                )
            yield place, place.fd

    def _commit(self, data: bytes) -> None:
        with self._writable() as (place, directory):
            self._existing(place, "replace")
            temp = self._take_reserved(directory) or _new_temp_file(
                directory, place.directory, self.owners
            )
            # We hold both locks: no live writer, ours or the Codex CLI's, owns a temp file.
            _remove_orphaned_temp_files(directory, place.directory, self.owners, keep=temp[1])
            replace_in(directory, place.directory, temp, place.name, data)

    def _reserve(self, size: int) -> _Reserved | None:
        with self._located(create=True) as located:
            assert located is not None  # noqa: S101  (create=True)
            place = located[1]
            if place.fd is None:
                return None  # a dangling link: the commit says why it cannot write
            try:
                fd, name = _new_temp_file(place.fd, place.directory, self.owners)
            except StorageError as exc:
                raise _no_room(place.directory, size, exc) from exc
            directory_fd = os.dup(place.fd)
            reserved = _Reserved(directory_fd, fd, name)
            try:
                _allocate(fd, size)
            except OSError as exc:
                reserved.discard()
                raise _no_room(place.directory, size, _reason(exc)) from exc
            return reserved

    def _take_reserved(self, directory: int) -> tuple[int, str] | None:
        """The reserved temp file, when it is in ``directory``; it is the commit's now."""
        reserved = self._reserved
        if reserved is None or not reserved.matches(directory):
            return None
        self._reserved = None
        os.close(reserved.directory_fd)
        return reserved.fd, reserved.name

    def _remove(self, home: int, place: _Place) -> bool:
        present = _lstat_in(home, AUTH_FILE, self.path) is not None
        # First, before anything changes: a special or foreign file is refused.
        target = self._existing(place, "delete")
        _remove_orphaned_temp_files(home, self.codex_home, self.owners)
        if place.fd is not None and place.fd != home:
            _remove_orphaned_temp_files(place.fd, place.directory, self.owners)
        if not present:
            return False
        if place.link and target is not None:
            assert place.fd is not None  # noqa: S101  (the target exists)
            _unlink_in(place.fd, place.name, place.path)
            _fsync(place.fd, place.directory)
        _unlink_in(home, AUTH_FILE, self.path)
        _fsync(home, self.codex_home)
        if place.link:
            self._notify(_link_removed(self.path, place.path, target is not None))
        return True


def _no_room(directory: Path, size: int, reason: object) -> StorageError:
    return StorageError(
        f"cannot reserve {size // 1024} KiB in {directory} for the refreshed tokens "
        f"({reason}); no refresh was sent, so the stored login is unchanged: "
        "free some space and try again"
    )


def _allocate(fd: int, size: int) -> None:
    """Give the open file ``size`` bytes of disk, durably; OSError (ENOSPC) otherwise."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        os.pwrite(fd, bytes(size), 0)  # a file system without fallocate: write the zeros
    os.fsync(fd)


def _link_removed(link: Path, target: Path, target_existed: bool) -> str:
    if target_existed:
        return f"Removed {target} ({link.name} was a link to it) and the link {link}"
    return f"Removed the link {link} (it pointed to {target}, which does not exist)"


# -- reading -------------------------------------------------------------------


def _read_capped(fd: int, path: Path) -> bytes:
    """At most MAX_FILE_BYTES of the open regular file ``fd``; more is an error."""
    try:
        with open(fd, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {_reason(exc)}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise StorageError(
            f"cannot read {path}: it is larger than {MAX_FILE_BYTES // 2**20} MiB; "
            "it cannot be a credential file"
        )
    return data


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


def _lstat_in(directory: int | None, name: str, path: Path) -> os.stat_result | None:
    """``name`` in the open ``directory``, not followed; None when it is missing."""
    if directory is None:
        return None
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot reach {path}: {_reason(exc)}") from exc


# -- orphaned temp files -----------------------------------------------------------


def _orphaned_temp_files(
    directory: int | Path, owners: Owners, keep: str | None = None
) -> list[str]:
    """The names of the regular ``.auth-*`` files of trusted owners in ``directory`` (a
    descriptor or a path), except ``keep``: ours, and those root in a container gave to
    the directory's owner. Links and other users' files are never listed: we must
    neither follow nor delete them.

    Every such file is an orphan only while both locks are held; without them, a file
    younger than the lock timeout may belong to a live writer."""
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError:
        return []
    orphans = []
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or entry.name == keep:
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and owners.trust(info.st_uid):
                orphans.append(entry.name)
    return orphans


def _remove_orphaned_temp_files(
    fd: int, directory: Path, owners: Owners, keep: str | None = None
) -> None:
    """Delete temp files left by killed writers in the open ``directory``; call only
    while holding both locks. Best effort: a leftover we cannot remove must not fail
    the write."""
    for orphan in _orphaned_temp_files(fd, owners, keep):
        try:
            os.unlink(orphan, dir_fd=fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            _log_notice(
                f"could not remove the leftover temp file {directory / orphan}: {_reason(exc)}"
            )


def _unlink_in(directory: int, name: str, path: Path) -> None:
    try:
        os.unlink(name, dir_fd=directory)
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


@contextlib.contextmanager
def _held(lock: LockFile, wait: _Wait) -> Iterator[None]:
    _acquire(lock, wait)
    try:
        yield
    finally:
        lock.release()


def _acquire(lock: LockFile, wait: _Wait) -> None:
    """Take ``lock`` within ``wait.timeout`` seconds. A wait longer than
    WAIT_NOTICE_AFTER is announced once, naming the holder when the OS tells."""
    deadline = time.monotonic() + wait.timeout
    if lock.acquire(0.0) or lock.acquire(min(WAIT_NOTICE_AFTER, wait.timeout)):
        return
    path = lock.path
    remaining = deadline - time.monotonic()
    if remaining > 0:
        bound = f" ({wait.variable} changes this)" if wait.variable else ""
        wait.notify(
            f"Waiting for {path}{_held_by(path)}; giving up after {wait.timeout:g} s{bound}"
        )
    if not lock.acquire(max(remaining, 0.0)):
        advice = f"set {wait.variable} to wait longer" if wait.variable else "try again later"
        raise LockTimeout(
            f"gave up after {wait.timeout:g} s waiting for {path}{_held_by(path)}; {advice}"
        )


def _held_by(path: Path) -> str:
    holders = describe_holders(path)
    return f", held by {holders}" if holders else ""


# -- writing and durability ----------------------------------------------------------


def _new_temp_file(
    directory: int, path: Path, owners: Owners, prefix: str = TEMP_PREFIX
) -> tuple[int, str]:
    """A new private temp file in the open ``directory`` (``path``): its fd and name."""
    for _ in range(100):
        name = prefix + os.urandom(6).hex()
        try:
            fd = os.open(name, _TEMP_FLAGS, FILE_MODE, dir_fd=directory)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot write in {path}: {_reason(exc)}") from exc
        try:
            give_to_directory_owner(fd, os.fstat(fd), os.fstat(directory), owners)
        except OSError as exc:
            os.close(fd)
            _unlink_in(directory, name, path / name)
            raise StorageError(f"cannot write in {path}: {_reason(exc)}") from exc
        return fd, name
    raise StorageError(f"cannot write in {path}: no free temp file name")


def replace_in(
    directory: int, path: Path, temp: tuple[int, str], name: str, data: bytes
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
        os.replace(temp_name, name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name, dir_fd=directory)
        raise StorageError(f"cannot write {path / name}: {_reason(exc)}") from exc
    _fsync(directory, path)
    return info


def write_new(
    directory: int, path: Path, name: str, data: bytes, *, owners: Owners, prefix: str
) -> os.stat_result:
    """Replace ``name`` in the open ``directory`` (``path``) with ``data``, atomically."""
    temp = _new_temp_file(directory, path, owners, prefix)
    return replace_in(directory, path, temp, name, data)


def _fsync(directory: int, path: Path) -> None:
    """Make the rename durable. Best effort: the rename has happened, so a failure
    here must not report the write as failed."""
    try:
        os.fsync(directory)
    except OSError as exc:
        _log_notice(f"could not sync directory {path}: {_reason(exc)}")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
