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
read, replaced and deleted relative to that directory's descriptor. Native Windows has
no directory descriptors: there the same steps go by path (``home_access.Paths``).

Notices for the user (a writer waiting for a lock, a logout through a link) go to
the ``notify`` callable given to the store; by default they are logged at INFO.

The rules this store shares with the keyring, encrypted and Redis stores (the locks,
their waits and re-entry, the modes, the atomic commit, the reserved room) are
written once, in ``store_core``; this module knows where auth.json is and whose it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

import attrs

from codex_login.adapters import auth_json
from codex_login.adapters.home_access import HomeAccess, for_platform
from codex_login.adapters.owned_paths import (
    Owners,
    check_file,
    check_link,
    resolve_links,
)
from codex_login.adapters.store_core import (
    COMMIT_LOCK,
    DIR_MODE,
    FILE_MODE,
    MAX_FILE_BYTES,
    READ_FLAGS,
    TIMEOUT_VARIABLE,
    WRITER_LOCK,
    HomeLocks,
    Reserved,
    file_identity,
    fsync_directory,
    new_temp_file,
    open_home,
    orphaned_temp_files,
    prepare_directory,
    read_capped,
    reason,
    remove_orphaned_temp_files,
    replace_in,
    reserve_room,
    unlink_in,
)
from codex_login.domain.errors import StorageError, UntrustedPath
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.record import CredentialRecord, Loaded

AUTH_FILE = "auth.json"
TEMP_PREFIX = ".auth-"  # shared with the Codex CLI's temp files
# Room reserved beyond the current record's size: rotated tokens may be longer.
RESERVE_MARGIN = 64 * 1024
_TOO_LARGE = f"it is larger than {MAX_FILE_BYTES // 2**20} MiB; it cannot be a credential file"
# The shared rules (store_core) stay importable from here, where callers found them.
__all__ = [
    "AUTH_FILE",
    "COMMIT_LOCK",
    "DIR_MODE",
    "FILE_MODE",
    "MAX_FILE_BYTES",
    "RESERVE_MARGIN",
    "TEMP_PREFIX",
    "TIMEOUT_VARIABLE",
    "WRITER_LOCK",
    "FileCredentialStore",
    "replace_in",
]

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


@attrs.frozen(repr=False, eq=False)
class _Place(FieldsRepr):
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
    effective uid and root; ``owned_paths``). ``access``: how its directories are
    reached (default: by descriptor, by path on Windows; ``home_access``).
    """

    def __init__(
        self,
        codex_home: Path,
        *,
        writer_lock_timeout: float = 90.0,
        commit_lock_timeout: float = 10.0,
        notify: Callable[[str], None] | None = None,
        owners: Owners | None = None,
        access: HomeAccess | None = None,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / AUTH_FILE
        self.owners = owners or Owners()
        self._notify = notify or _log_notice
        self.access = access or for_platform()
        self.locks = HomeLocks(
            self.codex_home,
            self.owners,
            guards=self.path,
            writer_timeout=writer_lock_timeout,
            commit_timeout=commit_lock_timeout,
            notify=self._notify,
            access=self.access,
        )
        self._reserved: Reserved | None = None  # set by reserve(), used by the next commit

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> Loaded | None:
        with self._located(create=False) as located:
            data = None if located is None else self._read(located[1])
        return None if data is None else auth_json.decode(data, self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.locks.committing():
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
            fd, name = new_temp_file(
                directory, place.directory, self.owners, TEMP_PREFIX, access=self.access
            )
            os.close(fd)
            unlink_in(directory, name, place.directory / name, access=self.access)

    def delete(self) -> bool:
        """Log out: remove auth.json (through a link, its target too) and orphaned
        temp files. True when credentials were removed."""
        if _mode_of(self.path) is None and not orphaned_temp_files(
            self.codex_home, self.owners, TEMP_PREFIX
        ):
            return False  # nothing to delete: don't create CODEX_HOME or lock files for it
        with self.locks.committing():
            return self.remove_held()

    def fingerprint(self) -> Hashable:
        # The hot path: one stat. A change is re-read by load(), which checks everything.
        return file_identity(self.path)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.lock``; re-entrant for the thread that holds it."""
        return self.locks.exclusive()

    def commit_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``auth.json.lock``, the lock of a commit; take it inside ``exclusive()``.

        The keyring stores commit under it too: the Codex CLI takes both locks
        whichever store it writes, so every writer excludes every other.
        """
        return self.locks.commit_lock()

    def remove_held(self) -> bool:
        """Delete auth.json where it really is, then a link to it; the caller holds
        ``exclusive()`` and ``commit_lock()`` (a keyring save removes the file this way)."""
        with self._located(create=True) as located:
            assert located is not None  # noqa: S101  (create=True)
            return self._remove(*located)

    # -- internals ---------------------------------------------------------

    @contextlib.contextmanager
    def _located(self, *, create: bool) -> Iterator[tuple[int, _Place] | None]:
        """CODEX_HOME's descriptor and where auth.json is, both directories open and
        checked for the block; None when CODEX_HOME is missing (``create``: it is made,
        as a writer makes it)."""
        if create:
            prepare_directory(self.codex_home, self.owners, access=self.access)
        try:
            home = open_home(self.codex_home, self.owners, access=self.access)
        except FileNotFoundError:
            yield None
            return
        place = None
        try:
            place = self._follow(home)
            yield home, place
        finally:
            if place is not None and place.fd is not None and place.fd != home:
                self.access.close(place.fd)
            self.access.close(home)

    def _follow(self, home: int) -> _Place:
        """auth.json in CODEX_HOME, or through the user's own link, the target in its
        checked directory: every link on the way (a chain of them included), the
        target's directory and (when read or replaced) the target file must all be the
        user's."""
        here = _Place(self.codex_home, home, AUTH_FILE)
        info = self._lstat_in(home, AUTH_FILE, self.path)
        if info is None or not stat.S_ISLNK(info.st_mode):
            return here
        check_link(info, self.path, self.owners)
        try:
            target = resolve_links(self.path, self.owners)
        except UntrustedPath as exc:
            raise UntrustedPath(f"refusing to follow {self.path}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot follow {self.path}: {reason(exc)}") from exc
        try:
            fd = self.access.open_directory(target.parent, self.owners)
        except UntrustedPath as exc:
            raise UntrustedPath(f"refusing to follow {self.path} to {target}: {exc}") from exc
        except FileNotFoundError:
            fd = None  # a dangling link: there is nothing to read or delete there
        except OSError as exc:
            raise StorageError(f"cannot reach {target.parent}: {reason(exc)}") from exc
        return _Place(target.parent, fd, target.name, link=self.path)

    def _read(self, place: _Place) -> bytes | None:
        if place.fd is None:
            return None
        fd = self._open_for_reading(place)
        if fd is None:
            return None
        try:
            return read_capped(fd, self.path, _TOO_LARGE)
        finally:
            os.close(fd)

    def _open_for_reading(self, place: _Place) -> int | None:
        """auth.json at ``place``, opened without following a link and checked: a regular
        file of a trusted owner that nobody else can write; None when it is missing."""
        assert place.fd is not None  # noqa: S101
        try:
            fd = self.access.open(place.name, READ_FLAGS, dir_fd=place.fd)
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
        info = self._lstat_in(place.fd, place.name, place.path)
        if info is not None and not stat.S_ISREG(info.st_mode):
            return _not_a_file(self.path, info.st_mode, action)
        return StorageError(f"cannot {action} {self.path}: {reason(exc)}")

    def _existing(self, place: _Place, action: str) -> os.stat_result | None:
        """The file at ``place`` (not followed), refused unless a regular file of a
        trusted owner; None when it is missing."""
        if place.fd is None:
            return None
        info = self._lstat_in(place.fd, place.name, place.path)
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
            temp = self._take_reserved(directory) or new_temp_file(
                directory, place.directory, self.owners, TEMP_PREFIX, access=self.access
            )
            # We hold both locks: no live writer, ours or the Codex CLI's, owns a temp file.
            remove_orphaned_temp_files(
                directory,
                place.directory,
                self.owners,
                TEMP_PREFIX,
                keep=temp[1],
                access=self.access,
            )
            replace_in(directory, place.directory, temp, place.name, data, access=self.access)

    def _reserve(self, size: int) -> Reserved | None:
        with self._located(create=True) as located:
            assert located is not None  # noqa: S101  (create=True)
            place = located[1]
            if place.fd is None:
                return None  # a dangling link: the commit says why it cannot write
            return reserve_room(
                place.fd, place.directory, self.owners, TEMP_PREFIX, size, access=self.access
            )

    def _lstat_in(self, directory: int | None, name: str, path: Path) -> os.stat_result | None:
        return _lstat_in(self.access, directory, name, path)

    def _take_reserved(self, directory: int) -> tuple[int, str] | None:
        """The reserved temp file, when it is in ``directory``; it is the commit's now."""
        reserved = self._reserved
        if reserved is None or not reserved.matches(directory):
            return None
        self._reserved = None
        return reserved.taken()

    def _remove(self, home: int, place: _Place) -> bool:
        access = self.access
        present = self._lstat_in(home, AUTH_FILE, self.path) is not None
        # First, before anything changes: a special or foreign file is refused.
        target = self._existing(place, "delete")
        remove_orphaned_temp_files(home, self.codex_home, self.owners, TEMP_PREFIX, access=access)
        if place.fd is not None and place.fd != home:
            remove_orphaned_temp_files(
                place.fd, place.directory, self.owners, TEMP_PREFIX, access=access
            )
        if not present:
            return False
        if place.link and target is not None:
            assert place.fd is not None  # noqa: S101  (the target exists)
            unlink_in(place.fd, place.name, place.path, access=access)
            fsync_directory(place.fd, place.directory, access=access)
        unlink_in(home, AUTH_FILE, self.path, access=access)
        fsync_directory(home, self.codex_home, access=access)
        if place.link:
            self._notify(_link_removed(self.path, place.path, target is not None))
        return True


def _link_removed(link: Path, target: Path, target_existed: bool) -> str:
    if target_existed:
        return f"Removed {target} ({link.name} was a link to it) and the link {link}"
    return f"Removed the link {link} (it pointed to {target}, which does not exist)"


# -- reading -------------------------------------------------------------------


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
        raise StorageError(f"cannot reach {path}: {reason(exc)}") from exc


def _lstat_in(
    access: HomeAccess, directory: int | None, name: str, path: Path
) -> os.stat_result | None:
    """``name`` in the open ``directory``, not followed; None when it is missing."""
    if directory is None:
        return None
    try:
        return access.lstat(name, dir_fd=directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot reach {path}: {reason(exc)}") from exc
