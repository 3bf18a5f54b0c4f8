"""The Secret Service (D-Bus) keyring backend, writing entries as the Codex CLI does.

python-keyring's own backend labels an entry "Password for …" and tags it
``application=Python keyring library``. The Codex CLI (Rust ``keyring`` crate 3.6.3)
finds such an entry, but writes its own differently; measured on Codex 0.171 with
gnome-keyring (tests/interop/CODEX_PEER_NOTES.md, section i)::

    label       cli|<hash>@Codex Auth:default (keyring v3.6.3)
    attributes  application=rust-keyring  service=Codex Auth  target=default
                username=cli|<hash>  xdg:schema=org.freedesktop.Secret.Generic
    secret      the value, content type text/plain

Like Codex, a save updates the secret of an entry that exists (whoever wrote it) and
creates one with Codex's label and attributes otherwise; lookups and deletes match
on ``service`` and ``username`` alone, as both tools do. Imported only when the
system keyring is the Secret Service, so python-keyring loads only then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any, TypeVar

from keyring.backends import SecretService
from keyring.errors import KeyringError

# What the Rust keyring crate (3.6.3, in Codex 0.171) writes besides service and username.
CRATE_VERSION = "3.6.3"
TARGET = "default"
CODEX_ATTRIBUTES = {
    "application": "rust-keyring",
    "target": TARGET,
    "xdg:schema": "org.freedesktop.Secret.Generic",
}


log = logging.getLogger(__name__)
T = TypeVar("T")

# gnome-keyring, while other clients write, has been seen to answer once that an object
# it holds does not exist (an item it had just listed; the collection its `default`
# alias names). Reads and saves are asked again after these pauses (seconds): both are
# safe to repeat, and the entry either exists or not whatever the answer said.
AGAIN_AFTER = (0.01, 0.05, 0.2)


def codex_label(service: str, username: str) -> str:
    return f"{username}@{service}:{TARGET} (keyring v{CRATE_VERSION})"


def codex_attributes(service: str, username: str) -> dict[str, str]:
    return {**CODEX_ATTRIBUTES, "service": service, "username": username}


class CodexSecretService(SecretService.Keyring):
    """python-keyring's Secret Service backend, creating entries the way Codex does.

    D-Bus failures (the daemon gone, a refused call) become ``KeyringError``, as
    python-keyring's own failures are, so the store reports them in one line.
    (python-keyring leaves this backend's methods unannotated: hence the ignores.)
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def get_password(self, service: str, username: str) -> str | None:
        read = super().get_password
        value: str | None = _again_if_vanished(lambda: read(service, username))  # type: ignore[no-untyped-call]
        return value

    def delete_password(self, service: str, username: str) -> None:
        with _translated():
            super().delete_password(service, username)  # type: ignore[no-untyped-call]

    def set_password(self, service: str, username: str, password: str) -> None:
        _again_if_vanished(lambda: self._set(service, username, password))

    def get_preferred_collection(self) -> Any:
        """python-keyring's (25.x), closing the D-Bus connection it opens when it then
        fails: python-keyring leaves it open, a socket lost at each failure (the
        daemon's "does not exist" while others write, a collection left locked)."""
        import secretstorage  # noqa: PLC0415  (loaded with python-keyring's backend)

        bus = secretstorage.dbus_init()
        try:
            return self._unlocked_collection(bus)
        except BaseException:
            bus.close()
            raise

    def _unlocked_collection(self, bus: Any) -> Any:
        import secretstorage  # noqa: PLC0415
        from keyring.errors import InitError, KeyringLocked  # noqa: PLC0415

        preferred = getattr(self, "preferred_collection", None)
        try:
            if preferred is not None:
                collection = secretstorage.Collection(bus, preferred)
            else:
                collection = secretstorage.get_default_collection(bus)
        except secretstorage.exceptions.SecretStorageException as exc:
            raise InitError(f"Failed to create the collection: {exc}.") from exc
        if collection.is_locked():
            collection.unlock()
            if collection.is_locked():  # the user dismissed the prompt
                raise KeyringLocked("Failed to unlock the collection!")
        return collection

    def _set(self, service: str, username: str, password: str) -> None:
        collection = self.get_preferred_collection()
        with closing(collection.connection):
            existing = _first(collection.search_items(self._query(service, username)))
            if existing is not None:
                self.unlock(existing)  # type: ignore[no-untyped-call]
                existing.set_secret(password.encode("utf-8"))
                return
            collection.create_item(
                codex_label(service, username),
                codex_attributes(service, username),
                password.encode("utf-8"),
                replace=True,
            )


def _again_if_vanished(action: Callable[[], T], pause: Callable[[float], None] = time.sleep) -> T:
    """``action()``, asked again after each of AGAIN_AFTER while the daemon says an object
    it holds does not exist; its failures translated (``_translated``)."""
    from secretstorage.exceptions import ItemNotFoundException  # noqa: PLC0415

    with _translated():
        for seconds in AGAIN_AFTER:
            try:
                return action()
            except ItemNotFoundException as exc:
                log.debug("the Secret Service said %s; asking again in %s s", exc, seconds)
                pause(seconds)
        return action()


@contextmanager
def _translated() -> Iterator[None]:
    from jeepney.wrappers import DBusErrorResponse  # noqa: PLC0415  (secretstorage's own)
    from secretstorage.exceptions import SecretStorageException  # noqa: PLC0415

    try:
        yield
    except (SecretStorageException, DBusErrorResponse, OSError) as exc:
        raise KeyringError(f"the Secret Service failed: {exc or type(exc).__name__}") from exc


def _first(items: Any) -> Any:
    return next(iter(items), None)
