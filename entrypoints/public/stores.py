"""Where a login lives: every shipped store, and the ports a store of your own implements.

Pass one as ``CodexAuth(store=...)``. ``FileCredentialStore(codex_home)`` is the default
(auth.json); ``KeyringCredentialStore`` and ``EncryptedCredentialStore`` use the OS
keyring (``codex-login[keyring]``), ``RedisCredentialStore`` one login for a fleet
(``codex-login[redis]``), ``AutoCredentialStore`` the keyring with auth.json as its
fallback, ``MemoryCredentialStore`` a process's memory. Anything that implements
``CredentialStore`` works too; ``codex_login.testing.CredentialStoreContract`` checks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login._lazy import exports

if TYPE_CHECKING:
    from codex_login.adapters.auto_store import AutoCredentialStore
    from codex_login.adapters.encrypted_store import EncryptedCredentialStore
    from codex_login.adapters.file_store import FileCredentialStore
    from codex_login.adapters.keyring_store import KeyringCredentialStore
    from codex_login.adapters.memory_store import MemoryCredentialStore
    from codex_login.adapters.redis.store import RedisCredentialStore
    from codex_login.domain.ports import (
        AccountShelf,
        Clock,
        CredentialStore,
        LeasedStore,
        ReservingStore,
        TokenBroker,
        TokenEndpoint,
    )

_PORTS = "codex_login.domain.ports"
_WHERE = {
    "FileCredentialStore": "codex_login.adapters.file_store",
    "MemoryCredentialStore": "codex_login.adapters.memory_store",
    "KeyringCredentialStore": "codex_login.adapters.keyring_store",
    "EncryptedCredentialStore": "codex_login.adapters.encrypted_store",
    "RedisCredentialStore": "codex_login.adapters.redis.store",
    "AutoCredentialStore": "codex_login.adapters.auto_store",
    "CredentialStore": _PORTS,
    "AccountShelf": _PORTS,
    "LeasedStore": _PORTS,
    "ReservingStore": _PORTS,
    "Clock": _PORTS,
    "TokenEndpoint": _PORTS,
    "TokenBroker": _PORTS,
}

__all__ = [  # noqa: RUF022  (grouped by kind, like the table above)
    "FileCredentialStore",
    "MemoryCredentialStore",
    "KeyringCredentialStore",
    "EncryptedCredentialStore",
    "RedisCredentialStore",
    "AutoCredentialStore",
    "CredentialStore",
    "AccountShelf",
    "LeasedStore",
    "ReservingStore",
    "Clock",
    "TokenEndpoint",
    "TokenBroker",
]

if not TYPE_CHECKING:  # type checkers see the imports above, and only those
    __getattr__, __dir__ = exports(__name__, _WHERE, extras={"RedisCredentialStore": "redis"})
