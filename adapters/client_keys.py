"""Client keys: one revocable bearer key per sandbox, in a file the broker re-reads.

The file (``codex-login serve --client-keys FILE``) holds one ``NAME KEY`` per line;
``#`` starts a comment line and blank lines are skipped. A NAME is 1-64 letters,
digits, ``.``, ``_`` or ``-`` (it appears in the access log and in metrics labels);
``secret`` is reserved for the clients of ``--secret-file``. A KEY is at least 16
visible ASCII characters. Names and keys are unique, and no name equals a key (two
columns swapped would put keys in the log). Any other line is malformed, and the
error names the file and the line number, never what the line holds.

The file follows the secret file's rules (``secret_file.py``): it belongs to the
effective user and carries no group or other permission bits. It is re-read when
it changes: one ``stat`` per lookup, compared with the last one read (device,
inode, size, times, mode, owner), so an edit in place and a file renamed over it
are both seen from the next request on. A file changed less than two seconds
before it was read is read again at each lookup until it is older ("racy git"):
file times are coarse, and a second edit within the same tick would otherwise
leave the same times and size. A file that becomes unreadable, malformed
or not private lets no key in until it is fixed: a removed key is never accepted
again because the edit that removed it went wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shlex
import time
from pathlib import Path

import attrs

from codex_login.adapters.secret_file import MIN_SECRET_LENGTH, exposure_of, read_opened
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr

MAX_CLIENT_KEYS_FILE = 1 << 20  # a million bytes is thousands of keys
RESERVED_NAMES = frozenset({"secret"})
RACY_NS = 2_000_000_000  # file times can be this coarse (a jiffy; FAT's 2 s)
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_KEY = re.compile(r"[\x21-\x7e]+")


def add_one(path: Path, name: str = "sandbox-a") -> str:
    """The shell command that appends a fresh key for ``name`` to ``path``, private from
    the start."""
    quoted = shlex.quote(str(path))
    return f'(umask 077; echo "{name} $(head -c 32 /dev/urandom | base64)" >> {quoted})'


@attrs.frozen(repr=False)
class ClientKeySet(FieldsRepr):
    """The keys read from one version of the file: a SHA-256 digest of each key, by name."""

    digests: tuple[tuple[str, bytes], ...] = attrs.field(default=(), repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.digests)

    def name_of(self, presented: bytes) -> str | None:
        """The name whose key is ``presented``, or None.

        Every key is compared, each in constant time (``hmac.compare_digest`` on
        digests of equal length), so the time taken says nothing about which key
        came close.
        """
        digest = hashlib.sha256(presented).digest()
        found: str | None = None
        for name, kept in self.digests:
            if hmac.compare_digest(digest, kept):
                found = name
        return found


def parse_client_keys(text: str, path: Path) -> ClientKeySet:
    """The keys in ``text`` (read from ``path``); ConfigurationError on a malformed line."""
    names: dict[str, int] = {}
    keys: dict[str, int] = {}
    pairs: list[tuple[str, bytes]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) != 2:
            raise _malformed(path, number, "expected NAME KEY, two fields")
        name, key = fields
        if not _NAME.fullmatch(name):
            raise _malformed(path, number, "a NAME is 1-64 letters, digits, '.', '_' or '-'")
        if name in RESERVED_NAMES:
            raise _malformed(path, number, "the NAME secret is kept for --secret-file's clients")
        if len(key) < MIN_SECRET_LENGTH or not _KEY.fullmatch(key):
            raise _malformed(
                path,
                number,
                f"a KEY is at least {MIN_SECRET_LENGTH} visible ASCII characters; "
                f"add one with: {add_one(path)}",
            )
        if name in names:
            raise _malformed(path, number, f"its NAME is on line {names[name]} already")
        if key in keys:
            raise _malformed(path, number, f"its KEY is on line {keys[key]} already")
        names[name] = keys[key] = number
        pairs.append((name, hashlib.sha256(key.encode()).digest()))
    if not names.keys().isdisjoint(keys):
        raise ConfigurationError(
            f"the client keys file {path} has a NAME that is also a KEY: NAME comes first"
        )
    return ClientKeySet(tuple(pairs))


def _malformed(path: Path, number: int, why: str) -> ConfigurationError:
    return ConfigurationError(f"the client keys file {path}, line {number}: {why}")


def read_client_keys(path: Path) -> tuple[ClientKeySet, os.stat_result]:
    """The keys in ``path`` and what ``fstat`` said of the file read; ConfigurationError
    when it is unreadable, too large, not UTF-8 text, malformed or not private."""
    data, info = read_opened(
        path, what="client keys file", limit=MAX_CLIENT_KEYS_FILE, make=add_one(path)
    )
    if len(data) > MAX_CLIENT_KEYS_FILE:
        raise ConfigurationError(
            f"the client keys file {path} is larger than {MAX_CLIENT_KEYS_FILE} bytes"
        )
    exposure = exposure_of(path, info, what="client keys file", holds="keys", fix=add_one(path))
    if exposure is not None:
        raise ConfigurationError(exposure)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"the client keys file {path} is not UTF-8 text") from exc
    return parse_client_keys(text, path), info


def _signature(info: os.stat_result) -> tuple[int, ...]:
    return (
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        info.st_mode,
        info.st_uid,
    )


class ClientKeyFile:
    """The client keys in a file, re-read when it changes (see the module docstring).

    ``keys()`` raises ConfigurationError while the file is unusable; ``problem`` then
    says why (None when the last read worked).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[int, ...] | None = None  # None: read at the next lookup
        self._keys = ClientKeySet()
        self.problem: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The names in the file as last read (none while it is unusable)."""
        return self._keys.names

    def keys(self) -> ClientKeySet:
        """The keys of the file as it is now: one ``stat``, and a read when it changed."""
        try:
            signature = _signature(os.stat(self.path))
        except OSError:
            signature = None  # gone or unreadable: read_client_keys says which
        if signature is None or signature != self._signature:
            self._reload()
        if self.problem is not None:
            raise ConfigurationError(self.problem)
        return self._keys

    def _reload(self) -> None:
        read_at = time.time_ns()
        try:
            keys, info = read_client_keys(self.path)
        except ConfigurationError as exc:
            self._signature, self._keys, self.problem = None, ClientKeySet(), str(exc)
            return
        racy = read_at - info.st_mtime_ns < RACY_NS
        self._signature = None if racy else _signature(info)
        self._keys, self.problem = keys, None

    def name_of(self, presented: bytes) -> str | None:
        """The name whose key is ``presented``; None when no key matches or the file is
        unusable now (``problem`` says why)."""
        try:
            return self.keys().name_of(presented)
        except ConfigurationError:
            return None
