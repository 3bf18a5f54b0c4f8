"""The macOS Keychain item behind a keyring entry, as both sides of it write it.

The Codex CLI (Rust ``keyring`` crate, apple-native backend: ``set_generic_password``
of ``security-framework`` in the user's default keychain) and Python's ``keyring``
(``keyring.backends.macOS``: ``SecItemAdd`` of the same query) both turn an entry
``(service, account)`` with password ``value`` into one *generic password* item:

- ``kSecClass``: ``kSecClassGenericPassword``
- ``kSecAttrService``: the service (``Codex Auth``)
- ``kSecAttrAccount``: the account (``cli|`` + 16 hex digits of the home's SHA-256)
- ``kSecValueData``: the value's UTF-8 bytes (Codex's compact auth.json)

So the keyring store needs no macOS adapter of its own: ``keyring.get_keyring()`` is
the macOS backend there, and the store hands it Codex's fields. Read from both
sources; not run on a Mac (docs/platforms.md says what that leaves unverified).
"""

from __future__ import annotations

import attrs

from codex_login.domain.fields_repr import FieldsRepr

GENERIC_PASSWORD = "kSecClassGenericPassword"  # noqa: S105  (an item class, not a secret)


@attrs.frozen(repr=False)
class KeychainItem(FieldsRepr):
    """A Keychain item's class, its two key attributes, and its data."""

    item_class: str
    service: str
    account: str
    data: bytes = attrs.field(repr=False)


def keychain_item(service: str, account: str, value: str) -> KeychainItem:
    """The item ``set_password(service, account, value)`` leaves in the Keychain."""
    return KeychainItem(GENERIC_PASSWORD, service, account, value.encode("utf-8"))
