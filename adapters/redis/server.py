"""The server as messages name it (never with the password), and raw connections to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import redis
from redis.exceptions import NoPermissionError

from codex_login.domain.errors import StorageError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.masking import scrub

Connection = redis.Connection | redis.UnixDomainSocketConnection
# getaddrinfo's EAI_NONAME: no such host (a typo, not an outage).
UNKNOWN_HOST = "Name or service not known"


@attrs.frozen(repr=False)
class Server(FieldsRepr):
    url: str  # without the password
    address: str  # host:port or the socket's path
    password: str | None = attrs.field(repr=False)
    connection: Callable[[], Connection] = attrs.field(repr=False)

    @classmethod
    def of(cls, client: redis.Redis) -> Server:
        pool = client.connection_pool
        options = dict(pool.connection_kwargs)
        scheme = {"SSLConnection": "rediss", "UnixDomainSocketConnection": "unix"}.get(
            pool.connection_class.__name__, "redis"
        )
        user = f"{options['username']}@" if options.get("username") else ""
        db = options.get("db") or 0
        if scheme == "unix":
            address = str(options.get("path"))
            url = f"unix://{user}{address}?db={db}"
        else:
            address = f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"
            url = f"{scheme}://{user}{address}/{db}"
        # The cache's listener speaks RESP2, where invalidations arrive as pub/sub messages.
        own = {k: v for k, v in options.items() if not k.startswith("maint_notifications")}
        own["protocol"] = 2
        return cls(url, address, options.get("password"), lambda: pool.connection_class(**own))

    def error(self, doing: str, exc: redis.RedisError) -> StorageError:
        """One line for a redis-py failure: what kind of trouble it is, and where."""
        reason = scrub(" ".join(str(exc).split()), [self.password or ""]) or type(exc).__name__
        said = self._refused(doing, exc, reason) or self._not_reached(doing, exc, reason)
        return StorageError(said or f"Redis at {self.address} refused to {doing}: {reason}")

    def _refused(self, doing: str, exc: redis.RedisError, reason: str) -> str | None:
        """The server would not have us: no password, a wrong one, a missing permission."""
        at = f"Redis at {self.address}"
        if isinstance(exc, redis.AuthenticationError) and not self.password:
            return (
                f"{at} asks for a password and none was given ({reason}); "
                "give it in the URL (redis://:PASSWORD@HOST) or in REDISCLI_AUTH"
            )
        if isinstance(exc, redis.AuthenticationError):
            return f"{at} refused our credentials ({reason}); check the user and password"
        if isinstance(exc, NoPermissionError) or "can't run this command" in reason:
            return (
                f"{at} refused to {doing}: its user may not run a command the store needs "
                f"({reason}); grant it the commands docs/fleet.md lists"
            )
        return None

    def _not_reached(self, doing: str, exc: redis.RedisError, reason: str) -> str | None:
        """No such host, no answer, no connection: a set-up mistake or an outage."""
        if isinstance(exc, redis.ConnectionError) and UNKNOWN_HOST in reason:
            return (
                f"cannot find the Redis host of {self.address} to {doing} ({reason}); "
                "check the host name in the URL"
            )
        if isinstance(exc, redis.TimeoutError) and self.url.startswith("rediss://"):
            return (
                f"Redis at {self.address} did not answer in time to {doing} ({reason}); "
                "if it does not speak TLS on that port, use redis:// (or its TLS port)"
            )
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return (
                f"cannot reach Redis at {self.address} to {doing} ({reason}); "
                "it may be a passing outage: try again"
            )
        return None


# redis-py leaves ``send_command`` and ``disconnect`` unannotated; these give them types.


def call(connection: Connection, *args: str | int) -> Any:
    send: Callable[..., None] = connection.send_command
    send(*args)
    return connection.read_response()


def disconnect(connection: Connection) -> None:
    disconnect: Callable[[], None] = connection.disconnect
    disconnect()


def as_bytes(value: object) -> bytes:
    """A reply as bytes, whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def as_int(value: object) -> int:
    """A counter as Redis returns it (bytes, str, int; None when absent) as an int."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(as_bytes(value))
