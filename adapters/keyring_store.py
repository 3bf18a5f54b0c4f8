"""Credentials in the OS keyring (the optional ``keyring`` extra).

The entry is the one the Codex CLI uses: service ``Codex Auth``, account ``cli|``
plus the first 16 hex digits of the SHA-256 of the canonical CODEX_HOME path,
value the compact JSON of the record. Writers still take ``auth.lock`` in
CODEX_HOME, so refreshes stay single-flight across processes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from codex_login.adapters import auth_json
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.errors import ConfigurationError, StorageError
from codex_login.domain.record import CredentialRecord, Loaded

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "Codex Auth"
INSTALL_HINT = "install it with: pip install 'codex-login[keyring]'"
T = TypeVar("T")


def keyring_account(codex_home: Path) -> str:
    try:
        canonical = codex_home.resolve(strict=True)
    except OSError:
        canonical = Path(os.path.abspath(codex_home))
    return "cli|" + hashlib.sha256(str(canonical).encode()).hexdigest()[:16]


def require_keyring_package() -> None:
    """Import the optional ``keyring`` package, or say how to install it.

    Imported on first use, not with this module: it is optional, and slow to import.
    """
    try:
        import keyring  # noqa: PLC0415, F401
    except ImportError as exc:
        raise ConfigurationError(
            f"the keyring store needs the keyring package, which is not installed; {INSTALL_HINT}"
            " (or use CODEX_LOGIN_STORE=file)"
        ) from exc


def system_keyring() -> KeyringBackend | None:
    """The OS keyring backend, or None when the package or a usable backend is missing."""
    try:
        require_keyring_package()
    except ConfigurationError:
        return None
    import keyring  # noqa: PLC0415
    from keyring.backends import fail  # noqa: PLC0415

    backend = keyring.get_keyring()
    return None if isinstance(backend, fail.Keyring) else backend


class KeyringCredentialStore:
    def __init__(self, codex_home: Path, *, backend: KeyringBackend | None = None) -> None:
        self.codex_home = Path(codex_home)
        self.account = keyring_account(self.codex_home)
        self._backend = backend
        self._locks = FileCredentialStore(self.codex_home)

    @property
    def location(self) -> str:
        return f"the OS keyring ({SERVICE} / {self.account})"

    def load(self) -> Loaded | None:
        value = self._value()
        if value is None:
            return None
        return auth_json.decode(value.encode("utf-8"), self.location)

    def save(self, record: CredentialRecord) -> None:
        value = auth_json.encode(record, compact=True).decode("utf-8")
        with self.exclusive():
            self._call(lambda keys: keys.set_password(SERVICE, self.account, value))

    def delete(self) -> bool:
        with self.exclusive():
            if self._value() is None:  # present is enough: a malformed entry goes too
                return False
            from keyring.errors import PasswordDeleteError  # noqa: PLC0415  (_value found it)

            try:
                self._call(lambda keys: keys.delete_password(SERVICE, self.account))
            except StorageError as exc:
                if isinstance(exc.__cause__, PasswordDeleteError):
                    return False
                raise
        return True

    def fingerprint(self) -> Hashable:
        """A digest of the entry: the entry itself holds secrets and must not be kept around."""
        value = self._value()
        return None if value is None else hashlib.sha256(value.encode()).hexdigest()

    def _value(self) -> str | None:
        return self._call(lambda keys: keys.get_password(SERVICE, self.account))

    def exclusive(self) -> AbstractContextManager[None]:
        return self._locks.exclusive()

    def _keyring(self) -> KeyringBackend:
        if self._backend is None:
            require_keyring_package()
            self._backend = system_keyring()
            if self._backend is None:
                raise ConfigurationError(
                    "no OS keyring is available; set PYTHON_KEYRING_BACKEND to a usable backend "
                    "or use CODEX_LOGIN_STORE=file"
                )
        return self._backend

    def _call(self, action: Callable[[KeyringBackend], T]) -> T:
        keys = self._keyring()  # first: it says how to install a missing package
        from keyring.errors import KeyringError  # noqa: PLC0415

        try:
            return action(keys)
        except KeyringError as exc:
            raise StorageError(f"the OS keyring failed: {exc or type(exc).__name__}") from exc
