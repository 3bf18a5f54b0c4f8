"""A shared secret kept in a file: the TCP broker's bearer secret.

Whoever can read the file can take access tokens from the broker, and whoever
owns or can write it chooses the secret. So, as ssh does with a private key, the
file must belong to the effective user and carry no group or other permission
bits. The broker refuses a file that is not private; a client only warns, since
it merely presents the secret (``exposure`` says why, for either to use).
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import attrs

from codex_login.adapters import os_flags
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr

MIN_SECRET_LENGTH = 16
MAX_SECRET_FILE = 4096  # a secret is a line; a larger file is a mistake (or /dev/zero)


@attrs.frozen(repr=False)
class SecretFile(FieldsRepr):
    """A secret read from ``path``, and why that file is not private (None when it is)."""

    path: Path
    secret: str = attrs.field(repr=False)
    exposure: str | None


def make_one(path: Path) -> str:
    """The shell command that writes a fresh secret to ``path``, private from the start."""
    return f"(umask 077; head -c 32 /dev/urandom | base64 > {shlex.quote(str(path))})"


def read_opened(
    path: Path, *, what: str, limit: int, make: str | None = None
) -> tuple[bytes, os.stat_result]:
    """Up to ``limit + 1`` bytes of the file ``path`` and what ``fstat`` said of the file
    opened; ConfigurationError naming the ``what`` when it cannot be read (with ``make``,
    the command that makes one, when it is missing)."""
    try:
        # The checks look at the file that was opened (fstat), not at a path that may change.
        fd = os.open(path, os.O_RDONLY | os_flags.CLOEXEC | os_flags.NOCTTY)
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            data = file.read(limit + 1)
    except OSError as exc:
        missing = f"; make one with: {make}" if make and isinstance(exc, FileNotFoundError) else ""
        raise ConfigurationError(
            f"cannot read the {what} {path}: {exc.strerror or exc}{missing}"
        ) from exc
    return data, info


def read_secret_file(path: Path) -> SecretFile:
    """The trimmed secret in ``path``; ConfigurationError when unreadable or too short."""
    data, info = read_opened(path, what="secret file", limit=MAX_SECRET_FILE)
    if len(data) > MAX_SECRET_FILE:
        raise ConfigurationError(
            f"the secret file {path} is larger than {MAX_SECRET_FILE} bytes; "
            f"make one with: {make_one(path)}"
        )
    try:
        secret = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"the secret file {path} is not UTF-8 text; make one with: {make_one(path)}"
        ) from exc
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"the secret in {path} is shorter than {MIN_SECRET_LENGTH} characters; "
            f"make one with: {make_one(path)}"
        )
    return SecretFile(path, secret, exposure_of(path, info))


def exposure_of(
    path: Path,
    info: os.stat_result,
    *,
    what: str = "secret file",
    holds: str = "secret",
    fix: str | None = None,
) -> str | None:
    """Why the file ``info`` describes is not private (None when it is): another owner,
    or group or other permission bits. ``fix`` makes a private one (default: a secret)."""
    euid = os_flags.effective_uid()
    if info.st_uid != euid:
        return (
            f"the {what} {path} belongs to uid {info.st_uid}, not to you (uid {euid}), "
            f"so its owner knows and can change the {holds}; "
            f"make your own: {fix or make_one(path)}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return (
            f"the {what} {path} has mode {mode:04o}, so other users can read or "
            f"change it; run: chmod 600 {shlex.quote(str(path))}"
        )
    return None
