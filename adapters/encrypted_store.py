"""Credentials in an age file whose passphrase is in the OS keyring: Codex's encrypted layout.

Selected, as by the Codex CLI 0.171, with ``[features] secret_auth_storage = true`` in
``$CODEX_HOME/config.toml``. Measured on Codex (tests/interop/CODEX_PEER_NOTES.md, i):

- keyring entry service ``codex``, account ``secrets|<hash of CODEX_HOME>``, value a
  passphrase: base64 of 32 random bytes, made by the first writer;
- ``$CODEX_HOME/secrets/codex_auth.age``: age, one scrypt recipient (work factor 2^19
  here, calibrated by the age library to about a second), holding the envelope
  ``{"version":1,"secrets":{"global/CODEX_AUTH":"<compact auth JSON>"}}``;
- a save deletes auth.json; a logout removes only ``global/CODEX_AUTH`` and keeps the
  other secrets and the passphrase.

Codex writes the file 0644 in a 0755 directory; we write 0600 in 0700, atomically
(temp file, fsync, rename, fsync of the directory), under ``auth.lock`` and
``auth.json.lock`` as Codex does. The envelope's other entries are kept as read.

A file that cannot be decrypted (wrong or missing passphrase, damaged file) is never
overwritten: saving and logging out refuse, saying what to do, rather than lose the
other secrets in it.

Decrypting costs about two seconds (scrypt at Codex's work factor) and a few hundred
MiB, so the envelope is cached in the process, keyed by the file's identity (inode,
size, mtime, ctime); ``fingerprint()`` is that identity, read with one ``stat``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import secrets
import stat
import threading
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_login.adapters import auth_json
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.keyring_store import KeyringEntry, home_hash
from codex_login.adapters.owned_paths import (
    Owners,
    check_file,
    give_to_directory_owner,
)
from codex_login.adapters.store_core import (
    DIR_MODE,
    READ_FLAGS,
    Identity,
    file_identity,
    identity,
    read_capped,
    reason,
    write_new,
)
from codex_login.domain.errors import ConfigurationError, MalformedCredentials, StorageError
from codex_login.domain.record import CredentialRecord, Loaded

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from codex_login.adapters.home_access import HomeAccess

SERVICE = "codex"
SECRETS_DIR = "secrets"
SECRETS_FILE = "codex_auth.age"
AUTH_KEY = "global/CODEX_AUTH"
VERSION = 1
INSTALL_HINT = (
    "install it with: pip install 'codex-login[keyring]' (from a checkout: "
    "pip install '.[keyring]')"
)


# Decrypted envelopes by (path, file identity): a rename gives a new inode, a rewrite
# in place a new ctime, so a changed file never hits a stale entry.
_envelopes: dict[tuple[str, Identity], dict[str, Any]] = {}
_envelopes_lock = threading.Lock()


def secrets_account(codex_home: Path) -> str:
    return "secrets|" + home_hash(codex_home)


def new_passphrase() -> str:
    """As Codex makes one: base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class EncryptedCredentialStore:
    """``files`` is the file store of the same CODEX_HOME, whose locks this store takes."""

    def __init__(
        self,
        codex_home: Path,
        *,
        backend: KeyringBackend | None = None,
        files: FileCredentialStore | None = None,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / SECRETS_DIR / SECRETS_FILE
        self._passphrase = KeyringEntry(SERVICE, secrets_account(self.codex_home), backend)
        self._files = files or FileCredentialStore(self.codex_home)

    @property
    def location(self) -> str:
        return f"{self.path} (encrypted; passphrase in the OS keyring: {self._passphrase.name})"

    def load(self) -> Loaded | None:
        envelope = self._envelope()
        if envelope is None:
            return None
        value = envelope["secrets"].get(AUTH_KEY)
        if value is None:
            return None
        if not isinstance(value, str):
            raise MalformedCredentials(self.location, f"{AUTH_KEY} is not a string")
        return auth_json.decode(value.encode("utf-8"), self.location)

    def save(self, record: CredentialRecord) -> None:
        """Write the record into the envelope, keeping its other secrets; delete auth.json."""
        value = auth_json.encode(record, compact=True).decode("utf-8")
        with self._files.locks.committing():
            envelope = self._envelope() or {"version": VERSION, "secrets": {}}
            envelope["secrets"][AUTH_KEY] = value
            self._write(envelope, self._current_passphrase())
            self._files.remove_held()

    def delete(self) -> bool:
        """Log out: remove the record from the envelope (other secrets stay) and auth.json."""
        with self._files.locks.committing():
            envelope = self._envelope()  # first: an undecryptable file stops the logout
            removed = self._files.remove_held()
            if envelope is None or AUTH_KEY not in envelope["secrets"]:
                return removed
            del envelope["secrets"][AUTH_KEY]
            self._write(envelope, self._current_passphrase())
            return True

    def fingerprint(self) -> Hashable:
        return file_identity(self.path)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return self._files.exclusive()

    # -- reading -----------------------------------------------------------

    def _envelope(self) -> dict[str, Any] | None:
        """The decrypted envelope (a copy), or None when there is no file."""
        read = self._read()
        if read is None:
            return None
        data, identity = read
        key = (str(self.path), identity)
        with _envelopes_lock:
            cached = _envelopes.get(key)
        if cached is None:
            cached = self._parse(self._decrypt(data))
            with _envelopes_lock:
                _envelopes[key] = cached
        return json.loads(json.dumps(cached))  # type: ignore[no-any-return]  # a deep copy

    def _read(self) -> tuple[bytes, Identity] | None:
        """The file's bytes and the identity of what was read (fstat of the same open file).

        CODEX_HOME and secrets/ must be the user's and writable by nobody else, the file
        the user's and not a link (``owned_paths``)."""
        try:
            access = self._files.access
            with _secrets_directory(self.codex_home, self._files.owners, access) as directory:
                fd = access.open(SECRETS_FILE, READ_FLAGS, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StorageError(
                    f"cannot read {self.path}: it is a symbolic link, which is not followed "
                    "for the secrets file; replace it with the file itself"
                ) from exc
            raise StorageError(f"cannot read {self.path}: {reason(exc)}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StorageError(f"cannot read {self.path}: it is not a regular file")
            check_file(info, self.path, self._files.owners, private=True)
            data = read_capped(fd, self.path, "it is too large to be a secrets file")
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {reason(exc)}") from exc
        finally:
            os.close(fd)
        return data, identity(info)

    def _decrypt(self, data: bytes) -> bytes:
        age = _pyrage()
        passphrase = self._passphrase.get()
        if passphrase is None:
            raise StorageError(
                f"cannot decrypt {self.path}: its passphrase is not in the OS keyring "
                f"({self._passphrase.name}); restore that entry, or move the file away "
                "to log in again"
            )
        try:
            plaintext: bytes = age.passphrase.decrypt(data, passphrase)
        except (age.DecryptError, ValueError) as exc:
            raise StorageError(
                f"cannot decrypt {self.path} with the passphrase in the OS keyring "
                f"({self._passphrase.name}): the passphrase is wrong or the file is damaged; "
                "nothing was changed: restore the file or the entry, or move the file away "
                "to log in again"
            ) from exc
        return plaintext

    def _parse(self, plaintext: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedCredentials(self.location, "the decrypted content is not JSON") from exc
        if (
            not isinstance(envelope, dict)
            or envelope.get("version") != VERSION
            or not isinstance(envelope.get("secrets"), dict)
        ):
            raise MalformedCredentials(
                self.location,
                f'the decrypted content is not {{"version":{VERSION},"secrets":{{...}}}}',
            )
        return envelope

    # -- writing -----------------------------------------------------------

    def _current_passphrase(self) -> str:
        """The keyring's passphrase; the first writer makes one and stores it before
        anything is encrypted with it. (A cached envelope may outlive its entry: the
        plaintext is in hand, so a new passphrase loses nothing.)"""
        current = self._passphrase.get()
        if current is not None:
            return current
        passphrase = new_passphrase()
        self._passphrase.set(passphrase)
        return passphrase

    def _write(self, envelope: dict[str, Any], passphrase: str) -> None:
        age = _pyrage()
        plaintext = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            data: bytes = age.passphrase.encrypt(plaintext, passphrase)
        except age.EncryptError as exc:
            raise StorageError(f"cannot encrypt {self.path}: {exc}") from exc
        identity = _replace(self.path, data, self._files.owners, self._files.access)
        with _envelopes_lock:  # our own write need not be decrypted again
            _envelopes[(str(self.path), identity)] = json.loads(plaintext)


def _replace(path: Path, data: bytes, owners: Owners, access: HomeAccess) -> Identity:
    """Write ``data`` at ``path`` atomically, 0600 in a 0700 directory; its new identity."""
    try:
        with _secrets_directory(path.parent.parent, owners, access, create=True) as directory:
            info = write_new(
                directory,
                path.parent,
                path.name,
                data,
                owners=owners,
                prefix=f".{path.name}.tmp-",
                access=access,
            )
    except OSError as exc:
        raise StorageError(f"cannot write in {path.parent}: {reason(exc)}") from exc
    return identity(info)  # both locks are held: nobody else has replaced it


@contextlib.contextmanager
def _secrets_directory(
    codex_home: Path, owners: Owners, access: HomeAccess, *, create: bool = False
) -> Iterator[int]:
    """``secrets/`` in CODEX_HOME, opened (not through a link) and checked, for the
    block, reached as the file store reaches CODEX_HOME (``access``: by descriptor, by
    path on Windows); ``create`` makes it 0700 and tightens a looser one of the user's
    (Codex makes it 0755). OSError when it cannot be opened (FileNotFoundError: missing)."""
    directory = codex_home / SECRETS_DIR
    home = access.open_directory(codex_home, owners)
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                access.mkdir(SECRETS_DIR, DIR_MODE, dir_fd=home)
        handle = _open_secrets_directory(directory, owners, home, access)
        home_info = access.fstat(home)
    finally:
        access.close(home)
    try:
        if create:
            access.make_private(handle, DIR_MODE, owners)
            # A no-op on Windows, the one platform whose handle is not a descriptor.
            give_to_directory_owner(handle, access.fstat(handle), home_info, owners)
        yield handle
    finally:
        access.close(handle)


def _open_secrets_directory(directory: Path, owners: Owners, home: int, access: HomeAccess) -> int:
    try:
        return access.open_directory(directory, owners, parent=home)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(directory):
            raise StorageError(
                f"cannot use {directory}: it is a symbolic link, which is not followed for "
                "the secrets directory; replace it with the directory itself"
            ) from exc
        raise


def _pyrage() -> Any:
    """The age implementation (pyrage, the ``keyring`` extra), imported on first use."""
    try:
        import pyrage  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            "the encrypted keyring layout (secret_auth_storage in config.toml) needs the "
            f"pyrage package, which is not installed; {INSTALL_HINT}"
        ) from exc
    return pyrage
