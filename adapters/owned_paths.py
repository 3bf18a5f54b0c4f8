"""Credential directories and files that belong to the user, checked as ssh checks ~/.ssh.

A credential directory (CODEX_HOME, ``accounts/``, a slot ``accounts/<name>/``,
``secrets/``) is used only when its owner is trusted and neither its group nor
others can write in it: whoever can write in it can plant an auth.json (served as the
user's login), a link (followed by a logout or a write) or a lock file. A
credential or lock file is used only when its owner is trusted, and auth.json or the
secrets file only when nobody else can write to it.

Trusted owners: the effective uid; root, who can change every file anyway (ssh
accepts root-owned paths for the same reason); and the one owner named by
``CODEX_LOGIN_TRUST_OWNER`` (a uid or a user name), for a CODEX_HOME mounted into a
container where it belongs to another uid than the process (the host user's 1000
while the container runs as root, say). Naming the owner, rather than "trust
everything", keeps every other user's directories refused.

Group write is allowed when the group is the owner's private group (its only member,
by primary group or membership): Debian's ssh rule, so a umask of 002 with user
private groups is not punished.

What is checked is what is used: a directory is opened once (``O_DIRECTORY``) and
checked with ``fstat`` on that descriptor; the names in it are opened relative to it
with ``O_NOFOLLOW`` and ``fstat``-checked in turn, so no link or rename between a
check and a use can swap the object.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import attrs

from codex_login.adapters import os_flags
from codex_login.domain.errors import ConfigurationError, UntrustedPath
from codex_login.domain.fields_repr import FieldsRepr

TRUST_VARIABLE = "CODEX_LOGIN_TRUST_OWNER"
ROOT_UID = 0
_MAX_UID = 2**32 - 2  # (uid_t)-1 means "no user"
DIRECTORY_FLAGS = os.O_RDONLY | os_flags.DIRECTORY | os_flags.CLOEXEC
# Opening a name inside a checked directory: a link there is never followed.
NO_FOLLOW = os_flags.NOFOLLOW | os_flags.CLOEXEC
# As many links as the kernel follows in one path lookup (Linux's MAXSYMLINKS).
MAX_LINK_HOPS = 40


@attrs.frozen(repr=False, eq=False)
class Owners(FieldsRepr):
    """Whose directories and files a store uses: the effective uid, root, and ``named``."""

    euid: int = attrs.field(factory=os_flags.effective_uid)
    named: int | None = None

    def trust(self, uid: int) -> bool:
        return uid in (self.euid, ROOT_UID) or uid == self.named


def owners_from(trust_owner: str | None) -> Owners:
    """The owners to trust, with the one ``CODEX_LOGIN_TRUST_OWNER`` (``trust_owner``) names."""
    text = (trust_owner or "").strip()
    return Owners(named=uid_of(text) if text else None)


def uid_of(text: str) -> int:
    """The uid ``text`` names: digits, or a user of this system."""
    if text.isdigit() and int(text) <= _MAX_UID:
        return int(text)
    if sys.platform == "win32":  # no user database of uids
        raise ConfigurationError(f"{TRUST_VARIABLE}: Windows has no uids; leave it unset")
    else:
        return _named_uid(text)


if sys.platform != "win32":  # the user database is POSIX's

    def _named_uid(text: str) -> int:
        import pwd  # noqa: PLC0415  (only when a name is given)

        try:
            return pwd.getpwnam(text).pw_uid
        except KeyError as exc:
            raise ConfigurationError(
                f"{TRUST_VARIABLE}={text!r} is neither a uid nor a user of this system; set it "
                "to the owner of the credential directory to trust (`ls -ldn DIR` shows its uid)"
            ) from exc


# -- opening ---------------------------------------------------------------------


def open_directory(path: Path, owners: Owners, *, parent: int | None = None) -> int:
    """A descriptor of the directory ``path``, checked. With ``parent`` (a descriptor of
    the directory holding it) ``path.name`` is opened there and a link is not followed;
    without, the path is followed as given (a CODEX_HOME may be a link to a dotfiles
    directory: what it leads to is what is checked). OSError when it cannot be opened."""
    if parent is None:
        fd = os.open(path, DIRECTORY_FLAGS)
    else:
        fd = os.open(path.name, DIRECTORY_FLAGS | os_flags.NOFOLLOW, dir_fd=parent)
    try:
        check_directory(os.fstat(fd), path, owners)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_private(fd: int, info: os.stat_result, mode: int, owners: Owners) -> None:
    """Tighten our own directory or file to ``mode`` through its descriptor (no path, no
    race); another owner's is left as it is."""
    if sys.platform == "win32":  # modes are ACLs there, inherited (docs/platforms.md)
        return
    elif info.st_uid == owners.euid and stat.S_IMODE(info.st_mode) != mode:
        os.fchmod(fd, mode)


def give_to_directory_owner(
    fd: int, info: os.stat_result, directory: os.stat_result, owners: Owners
) -> None:
    """Root creating a file or directory in a trusted user's directory (a container
    over the host's CODEX_HOME) gives it to that user, who goes on using it there: a
    root-owned 0600 auth.json or lock file would lock the host's Codex CLI out."""
    if sys.platform == "win32":  # no owners to give to (st_uid is 0 for every file)
        return
    elif owners.euid == ROOT_UID and info.st_uid == ROOT_UID and directory.st_uid != ROOT_UID:
        os.fchown(fd, directory.st_uid, directory.st_gid)


# -- checks ------------------------------------------------------------------------


def check_home(path: Path) -> None:
    """Refuse a credential directory that cannot be one at all: a file, or a directory
    this process may not enter. Missing is fine (made when first written); ownership
    and modes are checked where the directory is opened."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            why = "a part of its path is a file"
            raise ConfigurationError(_not_a_directory(path, why)) from exc
        if exc.errno == errno.EACCES:
            raise ConfigurationError(
                f"cannot reach the credential directory {path}: a directory above it is "
                f"closed to you; open it (`chmod +x` each one), or {_YOURS}"
            ) from exc
        return  # missing, or reported where it is opened, in that call's words
    if not stat.S_ISDIR(info.st_mode):
        why = "it is a file" if stat.S_ISREG(info.st_mode) else "something else is there"
        raise ConfigurationError(_not_a_directory(path, why))
    if not os.access(path, os.R_OK | os.X_OK):
        denied = f"cannot open the credential directory {path}: permission denied"
        raise ConfigurationError(f"{denied}; {_fix_access(path, info)}")


def _fix_access(path: Path, info: os.stat_result) -> str:
    if sys.platform == "win32":  # no owners to compare (st_uid is 0 for every file)
        return _YOURS
    else:
        return f"run `chmod 700 {path}`" if info.st_uid == os.geteuid() else _YOURS


_YOURS = "use a directory of your own (CODEX_HOME or --codex-home)"


def _not_a_directory(path: Path, why: str) -> str:
    return (
        f"the credential directory {path} is not a directory ({why}); move that away, or {_YOURS}"
    )


def check_directory(info: os.stat_result, path: Path, owners: Owners) -> None:
    """Refuse a directory another user owns or can write in; the error says the fix."""
    problem = directory_problem(info, path, owners)
    if problem:
        raise UntrustedPath(f"refusing to use {path}: {problem}")


def directory_problem(info: os.stat_result, path: Path, owners: Owners) -> str | None:
    """Why the directory ``path`` (``info``, its fstat) must not hold credentials, or None."""
    if not owners.trust(info.st_uid):
        return (
            f"it belongs to {who(info.st_uid)}, not to you, {who(owners.euid)}, who could "
            "read or replace the credentials in it; use a directory of your own (CODEX_HOME "
            f"or --codex-home) or `chown {owners.euid} {path}`, or, if it is yours on the host "
            f"it is mounted from (a container), set {TRUST_VARIABLE}={info.st_uid}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_ISVTX and mode & (stat.S_IWOTH | stat.S_IWGRP):
        return (
            f"it is a shared directory (mode {mode:04o}, like /tmp) where other users can "
            "plant files; keep credentials in a private one: `mkdir -m 700 DIR` and set "
            "CODEX_HOME=DIR"
        )
    if mode & stat.S_IWOTH or (mode & stat.S_IWGRP and not _private_group(info)):
        whom = "every user" if mode & stat.S_IWOTH else f"the group {_group(info.st_gid)}"
        return (
            f"its mode {mode:04o} lets {whom} write in it, and so plant or replace "
            f"credentials; run `chmod 700 {path}`"
        )
    return None


def check_file(info: os.stat_result, path: Path, owners: Owners, *, private: bool) -> None:
    """Refuse a credential or lock file another user owns; with ``private`` (auth.json,
    the secrets file) also one that others can write to."""
    problem = file_problem(info, path, owners, private=private)
    if problem:
        raise UntrustedPath(f"refusing to use {path}: {problem}")


def file_problem(info: os.stat_result, path: Path, owners: Owners, *, private: bool) -> str | None:
    """Why the credential or lock file ``path`` (``info``, its stat) must not be used, or
    None (the rules of ``check_file``)."""
    if not owners.trust(info.st_uid):
        return (
            f"it belongs to {who(info.st_uid)}, not to you, "
            f"{who(owners.euid)}; another user may have planted it: remove it "
            f"(`rm {path}`), or `chown {owners.euid} {path}` if it is yours"
        )
    mode = stat.S_IMODE(info.st_mode)
    if private and (mode & stat.S_IWOTH or (mode & stat.S_IWGRP and not _private_group(info))):
        return f"its mode {mode:04o} lets other users change it; run `chmod 600 {path}`"
    return None


def resolve_links(path: Path, owners: Owners) -> Path:
    """Where ``path`` really is, as ``realpath`` finds it, following only links of
    trusted owners: one link another user made anywhere on the way (a second link
    behind the user's own, say) could send a read, a write or a delete to any file.
    The part from the first missing name on is returned as it is (nothing to follow).
    OSError (ELOOP) after MAX_LINK_HOPS links."""
    whole = Path.cwd() / path
    pending = list(whole.parts[1:])  # Path keeps "..": resolved below, physically
    current = _root(whole)
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return candidate.joinpath(*pending)
        if not stat.S_ISLNK(info.st_mode):
            current = candidate
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
        check_link(info, candidate, owners)
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = _root(target)
            pending = [*target.parts[1:], *pending]
        else:
            pending = [*target.parts, *pending]
    return current


def _root(path: Path) -> Path:
    """Where the absolute ``path`` starts: ``/``, or its drive (``C:\\``) on Windows."""
    if sys.platform == "win32":
        return Path(path.anchor)
    else:
        return Path("/")


def check_link(info: os.stat_result, link: Path, owners: Owners) -> None:
    """Refuse to follow a link another user made (``info``: its lstat)."""
    if not owners.trust(info.st_uid):
        raise UntrustedPath(
            f"refusing to follow {link}: the link belongs to {who(info.st_uid)}, not to you, "
            f"{who(owners.euid)}; another user may have planted it: remove it (`rm {link}`)"
        )


def who(uid: int) -> str:
    """``alice (uid 1000)``, or ``uid 1000`` for a uid without a name."""
    if sys.platform == "win32":
        return f"uid {uid}"
    else:
        import pwd  # noqa: PLC0415  (only for an error message)

        try:
            return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
        except KeyError:
            return f"uid {uid}"


def _group(gid: int) -> str:
    if sys.platform == "win32":
        return f"gid {gid}"
    else:
        import grp  # noqa: PLC0415

        try:
            return f"{grp.getgrgid(gid).gr_name} (gid {gid})"
        except KeyError:
            return f"gid {gid}"


def _private_group(info: os.stat_result) -> bool:
    """Whether the file's group has exactly one member, its owner (by primary group or
    membership): then group write gives nobody else anything. Only asked about a
    group-writable path, so reading the user database is rare."""
    if sys.platform == "win32":  # no groups there (never asked: no mode bits either)
        return False
    else:
        return _private_posix_group(info)


if sys.platform != "win32":  # the user database is POSIX's

    def _private_posix_group(info: os.stat_result) -> bool:
        import grp  # noqa: PLC0415
        import pwd  # noqa: PLC0415

        try:
            group = grp.getgrgid(info.st_gid)
            owner = pwd.getpwuid(info.st_uid).pw_name
        except KeyError:
            return False
        primary = {user.pw_uid for user in pwd.getpwall() if user.pw_gid == info.st_gid}
        members = set(group.gr_mem)
        return primary <= {info.st_uid} and members <= {owner} and bool(primary or members)
