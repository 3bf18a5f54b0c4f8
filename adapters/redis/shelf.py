"""Inactive logins in Redis, one store each."""

from __future__ import annotations

from collections.abc import Callable

import redis

from codex_login.adapters.redis.config import DEFAULT_PREFIX, Keys
from codex_login.adapters.redis.server import Server, as_bytes
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.domain.accounts import NAME_PATTERN, check_name

ACCOUNT_NAME_PREFIX = "account."


class RedisShelf:
    """Inactive logins in Redis: each under the login name ``account.<name>``."""

    def __init__(self, client: redis.Redis, make: Callable[[str], RedisCredentialStore], *,
                 prefix: str = DEFAULT_PREFIX) -> None:  # fmt: skip
        self._client = client
        self._make = make
        self._prefix = prefix

    def names(self) -> list[str]:
        pattern = Keys(_glob_escaped(self._prefix), ACCOUNT_NAME_PREFIX + "*").record
        start = len(Keys(self._prefix, ACCOUNT_NAME_PREFIX).tag) - 1
        try:
            found = {as_bytes(key).decode() for key in self._client.scan_iter(match=pattern)}
        except redis.RedisError as exc:
            raise Server.of(self._client).error("list the accounts", exc) from exc
        names = {key[start : key.index("}", start)] for key in found}
        return sorted(name for name in names if NAME_PATTERN.fullmatch(name))

    def slot(self, name: str) -> RedisCredentialStore:
        return self._make(ACCOUNT_NAME_PREFIX + check_name(name))

    def close(self) -> None:
        """Close the client's connections, which the slots share; a later call reconnects."""
        self._client.close()


def _glob_escaped(text: str) -> str:
    """``text`` matched literally by a Redis glob (SCAN MATCH)."""
    return "".join("\\" + c if c in "*?[]\\^" else c for c in text)
