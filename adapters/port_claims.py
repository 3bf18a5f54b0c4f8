"""Who may cancel the browser login waiting on a callback port: its own user only.

A browser login listens on a loopback port (1455, then 1457) until the browser comes
back. A newer login that finds the port busy asks the waiting one to let go
(``GET /cancel``), so an abandoned login does not hold the port for good. Anyone on
the machine can reach a loopback port, so the waiting login only obeys a request
that carries its secret, and the secret is told only to its user: each login writes
a claim, a file readable by its owner alone, naming its port and its secret.

Where: a per-user runtime directory, as tmux and ssh-agent keep their sockets:
``$XDG_RUNTIME_DIR`` when it is a private directory of the effective user (systemd
makes ``/run/user/UID``, 0700, emptied at log-out), else ``$TMPDIR/codex-login-UID``
(``/tmp`` by default), made 0700 and used only while it is a real directory of ours
that nobody else can enter. Not ``$CODEX_HOME``: the question is "a login of the
same user?", whatever its ``CODEX_HOME`` (the Codex CLI's takeover ignores it too),
and a crashed login's claim should not outlive a reboot. A directory that fails the
checks is not used: the login still works, it only cannot be taken over.

A claim is written after the port is bound, so only the port's holder can have
written it; it is removed (if still ours) before the port is let go. A reader trusts
a claim only when the file belongs to the effective user and is private.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from pathlib import Path

import attrs

from codex_login.adapters import os_flags
from codex_login.domain.fields_repr import FieldsRepr

log = logging.getLogger(__name__)

_PRIVATE = 0o077  # no permission bit for group or others may be set
_NOFOLLOW = os_flags.NOFOLLOW | os_flags.CLOEXEC


@attrs.frozen(repr=False)
class PortClaim(FieldsRepr):
    """A login's claim on ``port``: ``secret`` cancels it."""

    port: int
    secret: str = attrs.field(repr=False)

    @classmethod
    def new(cls, port: int) -> PortClaim:
        return cls(port, secrets.token_urlsafe(32))


class PortClaims:
    """The claims of one user's logins, as files in ``directory`` (None: kept nowhere)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def for_user(cls, xdg_runtime_dir: str | None, tmpdir: str | None) -> PortClaims:
        """In ``$XDG_RUNTIME_DIR``, else in a private directory of ``$TMPDIR`` (or /tmp)."""
        return cls(runtime_dir(xdg_runtime_dir, tmpdir))

    def path(self, port: int) -> Path | None:
        return None if self.directory is None else self.directory / f"login-callback-{port}.json"

    def write(self, claim: PortClaim) -> None:
        """Record ``claim``; a failure only costs the takeover, so it is logged, not raised."""
        path = self.path(claim.port)
        if path is None:
            return
        body = json.dumps({"port": claim.port, "pid": os.getpid(), "secret": claim.secret})
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(body)
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("cannot write %s (%s): a newer login cannot take over this port", path, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()

    def secret_for(self, port: int) -> str | None:
        """The secret of our own login on ``port``, if a trustworthy claim names one."""
        path = self.path(port)
        body = None if path is None else _read_private(path)
        if body is None:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None
        if not isinstance(document, dict) or document.get("port") != port:
            return None
        secret = document.get("secret")
        return secret if isinstance(secret, str) and secret else None

    def remove(self, claim: PortClaim) -> None:
        """Delete the claim file, unless it is no longer ``claim``'s."""
        path = self.path(claim.port)
        if path is not None and self.secret_for(claim.port) == claim.secret:
            with contextlib.suppress(OSError):
                path.unlink()


def runtime_dir(xdg: str | None, tmpdir: str | None) -> Path | None:
    """This user's private runtime directory (see the module docstring), or None."""
    if xdg and os.path.isabs(xdg) and _private_dir(Path(xdg)) is None:
        return Path(xdg)
    fallback = Path(tmpdir or "/tmp") / f"codex-login-{os_flags.effective_uid()}"  # noqa: S108
    with contextlib.suppress(OSError):  # it may exist; the checks below decide
        fallback.mkdir(mode=0o700)
    problem = _private_dir(fallback)
    if problem is not None:
        log.warning(
            "not using %s (%s): a newer login cannot take over this port", fallback, problem
        )
        return None
    return fallback


def _read_private(path: Path) -> bytes | None:
    """The start of a regular file that only the effective user can read; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os_flags.NONBLOCK | _NOFOLLOW)  # a FIFO must not hang us
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_uid != os_flags.effective_uid() or info.st_mode & _PRIVATE:
            log.warning("ignoring %s: not a private file of this user", path)
            return None
        try:
            return file.read(4096)
        except OSError:
            return None


def _private_dir(path: Path) -> str | None:
    """Why ``path`` is not a directory only the effective user can enter; None if it is."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if info.st_uid != os_flags.effective_uid():
        return f"owned by uid {info.st_uid}"
    if info.st_mode & _PRIVATE:
        return f"mode {stat.S_IMODE(info.st_mode):04o} lets others in"
    return None
