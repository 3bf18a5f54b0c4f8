"""Credentials in the OS keyring (the optional ``keyring`` extra), as the Codex CLI keeps them.

The entry is the one the Codex CLI 0.171 uses (its "direct" layout): service
``Codex Auth``, account ``cli|`` plus the first 16 hex digits of the SHA-256 of the
canonical CODEX_HOME path, value the compact JSON of the record. On the Secret
Service the entry carries Codex's label and attributes too (``secret_service.py``).

The Codex CLI's rules, which this store follows: keyring mode never reads
auth.json; a successful save deletes auth.json; a delete (logout) removes the entry
and the file. Writers take ``auth.lock`` then ``auth.json.lock`` in CODEX_HOME, the
locks of the file store and of the Codex CLI whichever store it writes, so the
refresh protocol (SPEC §4) holds across stores and with the Codex CLI.

The hot path (``fingerprint()``) asks the keyring nothing while nothing changed: it
keeps the digest of the entry last read, with the commit marker seen just before
(``auth.json.lock``'s inode and mtime, which every save and delete of ours sets,
strictly increasing, while holding both locks), and costs one ``stat`` of that file.
The Codex CLI's keyring save changes nothing in CODEX_HOME (it opens its lock files
without truncating them and unlinks an auth.json only when there is one), so its
writes are seen within ``CACHE_MAX_AGE`` seconds, when the digest is read again.
Under the lock, callers ``load()`` anyway, which always reads the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from codex_login.adapters import auth_json
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.store_core import COMMIT_LOCK, stat_or_none
from codex_login.domain.errors import ConfigurationError, StorageError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.record import CredentialRecord, Loaded

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "Codex Auth"
# Seconds a digest is trusted while the marker is unchanged: the bound on seeing a write
# by the Codex CLI, which does not touch the marker.
CACHE_MAX_AGE = 1.0
INSTALL_HINT = (
    "install it with: pip install 'codex-login[keyring]' (from a checkout: "
    "pip install '.[keyring]')"
)
KEYRING_FAILED = "the OS keyring failed"
T = TypeVar("T")


def home_hash(codex_home: Path) -> str:
    """The first 16 hex digits of the SHA-256 of the canonical CODEX_HOME, as Codex names it."""
    try:
        canonical = codex_home.resolve(strict=True)
    except OSError:
        canonical = Path(os.path.abspath(codex_home))
    return hashlib.sha256(str(canonical).encode()).hexdigest()[:16]


def keyring_account(codex_home: Path) -> str:
    return "cli|" + home_hash(codex_home)


def require_keyring_package() -> None:
    """Import the optional ``keyring`` package, or say how to install it.

    Imported on first use, not with this module: it is optional, and slow to import.
    """
    try:
        import keyring  # noqa: PLC0415, F401
    except ImportError as exc:
        raise ConfigurationError(
            f"the keyring store needs the keyring package, which is not installed; {INSTALL_HINT}"
            ", or use CODEX_LOGIN_STORE=file"
        ) from exc


def system_keyring() -> KeyringBackend | None:
    """The OS keyring backend, or None when the package or a usable backend is missing.

    The Secret Service backend is swapped for one that writes entries as Codex does.
    """
    try:
        require_keyring_package()
    except ConfigurationError:
        return None
    import keyring  # noqa: PLC0415
    from keyring.backends import SecretService, fail  # noqa: PLC0415

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    if type(backend) is SecretService.Keyring:
        from codex_login.adapters.secret_service import CodexSecretService  # noqa: PLC0415

        return CodexSecretService()
    return backend


def no_keyring_error() -> ConfigurationError:
    """Why there is no OS keyring, in one line, and what to do."""
    return ConfigurationError(
        f"no OS keyring is available{secret_service_problem()}; set PYTHON_KEYRING_BACKEND "
        "to a usable backend or use CODEX_LOGIN_STORE=file"
    )


def secret_service_problem() -> str:
    """On Linux, what the Secret Service backend found wrong (no D-Bus session, no daemon)."""
    if sys.platform != "linux":
        return ""
    else:
        try:
            from keyring.backends import SecretService  # noqa: PLC0415
        except ImportError:
            return f" (the keyring package is not installed; {INSTALL_HINT})"
        try:
            SecretService.Keyring.priority  # noqa: B018  (raises with the reason)
        except Exception as exc:
            return f" ({str(exc).rstrip('.')})"
        return ""


class KeyringEntry:
    """One keyring entry (service, account), its failures translated to StorageError."""

    def __init__(self, service: str, account: str, backend: KeyringBackend | None) -> None:
        self.service = service
        self.account = account
        self._backend = backend

    @property
    def name(self) -> str:
        return f"{self.service} / {self.account}"

    def get(self) -> str | None:
        return self._call(lambda keys: keys.get_password(self.service, self.account))

    def set(self, value: str) -> None:
        self._call(lambda keys: keys.set_password(self.service, self.account, value))

    def delete(self) -> bool:
        """Remove the entry; False when there was none."""
        if self.get() is None:  # present is enough: a malformed entry goes too
            return False
        from keyring.errors import PasswordDeleteError  # noqa: PLC0415  (get found it)

        try:
            self._call(lambda keys: keys.delete_password(self.service, self.account))
        except StorageError as exc:
            if isinstance(exc.__cause__, PasswordDeleteError):
                return False
            raise
        return True

    def _keyring(self) -> KeyringBackend:
        if self._backend is None:
            require_keyring_package()
            self._backend = system_keyring()
            if self._backend is None:
                raise no_keyring_error()
        return self._backend

    def _call(self, action: Callable[[KeyringBackend], T]) -> T:
        keys = self._keyring()  # first: it says how to install a missing package
        from keyring.errors import KeyringError  # noqa: PLC0415

        try:
            return action(keys)
        except KeyringError as exc:
            raise StorageError(f"{KEYRING_FAILED}: {exc or type(exc).__name__}") from exc


class KeyringCredentialStore:
    """``files`` is the file store of the same CODEX_HOME, whose locks this store takes
    (one shared object: two lock objects on one file would exclude each other)."""

    def __init__(
        self,
        codex_home: Path,
        *,
        backend: KeyringBackend | None = None,
        files: FileCredentialStore | None = None,
        cache_max_age: float = CACHE_MAX_AGE,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.account = keyring_account(self.codex_home)
        self._entry = KeyringEntry(SERVICE, self.account, backend)
        self._files = files or FileCredentialStore(self.codex_home)
        self._marker = self._files.codex_home / COMMIT_LOCK
        self._max_age = cache_max_age
        self._seen: _Seen | None = None

    @property
    def location(self) -> str:
        return f"the OS keyring ({self._entry.name})"

    def load(self) -> Loaded | None:
        """The entry's record; auth.json is never read, as in Codex's keyring mode."""
        marker = self._marker_now()
        value = self._entry.get()
        self._remember(marker, value)
        if value is None:
            return None
        return auth_json.decode(value.encode("utf-8"), self.location)

    def save(self, record: CredentialRecord) -> None:
        """Write the entry, then delete auth.json, as Codex does: the keyring is the copy."""
        value = auth_json.encode(record, compact=True).decode("utf-8")
        with self._files.locks.committing():
            self._seen = None
            self._entry.set(value)
            self._files.remove_held()
            self._mark_commit()

    def delete(self) -> bool:
        """Log out: the entry and auth.json both go, as Codex's logout removes both."""
        with self._files.locks.committing():
            self._seen = None
            removed = self._entry.delete()
            removed = self._files.remove_held() or removed
            self._mark_commit()
            return removed

    def fingerprint(self) -> Hashable:
        """A digest of the entry (the entry holds secrets and must not be kept around),
        from memory while the commit marker is unchanged and the digest young."""
        marker = self._marker_now()
        seen = self._seen
        if seen is not None and seen.marker == marker and time.monotonic() < seen.until:
            return seen.digest
        return self._remember(marker, self._entry.get())

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return self._files.exclusive()

    def _remember(self, marker: Hashable, value: str | None) -> Hashable:
        digest = None if value is None else hashlib.sha256(value.encode()).hexdigest()
        self._seen = _Seen(marker, digest, time.monotonic() + self._max_age)
        return digest

    def _marker_now(self) -> Hashable:
        info = stat_or_none(self._marker, follow_symlinks=False)
        return None if info is None else (info.st_ino, info.st_mtime_ns)

    def _mark_commit(self) -> None:
        """Tell other handles a write happened: the held commit lock's mtime moves forward
        (strictly: the file system's clock is too coarse to tell two quick writes apart)."""
        # The write is done: failing to mark it must not fail it. Other handles then see
        # it within CACHE_MAX_AGE, as they see the Codex CLI's.
        with contextlib.suppress(OSError):
            before = os.stat(self._marker, follow_symlinks=False).st_mtime_ns
            stamp = max(time.time_ns(), before + 1)
            os.utime(self._marker, ns=(stamp, stamp), follow_symlinks=False)


@attrs.frozen(repr=False)
class _Seen(FieldsRepr):
    """The digest read after seeing ``marker``, trusted until ``until`` (monotonic)."""

    marker: Hashable
    digest: str | None
    until: float
