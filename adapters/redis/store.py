"""The fenced store: one login under a lease, written only while the lease and version hold."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterator

import redis

from codex_login.adapters import auth_json
from codex_login.adapters.redis import scripts
from codex_login.adapters.redis.config import DEFAULT_NAME, DEFAULT_PREFIX, Keys
from codex_login.adapters.redis.lease import (
    Lease,
    held_by_this_process,
    holder_of,
    new_token,
    wait_for,
)
from codex_login.adapters.redis.server import Server, as_bytes, as_int
from codex_login.adapters.redis.version_cache import VersionCache
from codex_login.adapters.store_core import Exclusion
from codex_login.domain.errors import LeaseLost, StorageError
from codex_login.domain.record import CredentialRecord, Loaded

DEFAULT_LEASE_TTL = 30.0
DEFAULT_LOCK_TIMEOUT = 90.0

log = logging.getLogger(__name__)


def _log_notice(message: str) -> None:
    log.info("%s", message)


class RedisCredentialStore:
    """One login in Redis; a drop-in ``CredentialStore``.

    ``client`` is a ``redis.Redis`` (an embedder may pass its own; see ``connect``).
    ``lock_timeout`` bounds every wait for the lease; ``lease_ttl`` is how long a
    lease outlives a holder that stopped renewing it. ``renew=False`` turns the
    renewal off (for tests of expiry). ``client_side_cache=True`` makes an
    unchanged ``fingerprint()`` free: Redis announces every change of the version
    (server-assisted client-side caching) instead of being asked each time.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        name: str = DEFAULT_NAME,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        renew: bool = True,
        client_side_cache: bool = False,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.keys = Keys(prefix, name)
        self._client = client
        self._server = Server.of(client)
        self._lock_timeout = lock_timeout
        self._ttl_ms = max(1, round(lease_ttl * 1000))
        self._renew = renew
        self._notify = notify or _log_notice
        self._acquire = client.register_script(scripts.ACQUIRE)
        self._renew_script = client.register_script(scripts.RENEW)
        self._release = client.register_script(scripts.RELEASE)
        self._commit_script = client.register_script(scripts.COMMIT)
        self._confirm_script = client.register_script(scripts.CONFIRM)
        self._cache = VersionCache(self._server, self.keys.version) if client_side_cache else None
        self._unreleased: str | None = None  # the token of a lease Redis would not release
        # The lease excludes other handles and hosts; the exclusion, other threads of ours.
        self._exclusion = Exclusion(
            self._take_lease, self._give_back, timeout=lock_timeout, writing=self.keys.record
        )

    def __repr__(self) -> str:
        return f"RedisCredentialStore({self.location!r})"

    @property
    def location(self) -> str:
        return f"{self._server.url} key {self.keys.record}"

    def load(self) -> Loaded | None:
        with self._translated("read the credentials"):
            data, version = self._client.mget([self.keys.record, self.keys.version])
        self._saw(version)
        if data is None:
            return None
        return auth_json.decode(as_bytes(data), self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.exclusive():
            self._commit("save", data)

    def delete(self) -> bool:
        with self.exclusive():
            return self._commit("delete", b"")

    def close(self) -> None:
        """Close this store's connections now rather than when it is collected: the
        client's pool and the cache's listener. A later call opens them again."""
        if self._cache is not None:
            self._cache.close()
        self._client.close()

    @property
    def fingerprint_is_remote(self) -> bool:
        """Without the client-side cache every ``fingerprint()`` asks Redis."""
        return self._cache is None

    def fingerprint(self) -> Hashable:
        if self._cache is None or self._holding():
            return self._read_version()
        with self._translated("read the credentials' version"):
            return self._cache.get(self._read_version)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold the lease; re-entrant for the thread that holds it."""
        return self._exclusion.hold()

    def confirm_exclusive(self) -> None:
        """Before sending a refresh token: the lease is still ours, the record unchanged."""
        lease = self._mine()
        if lease is None:
            raise LeaseLost(f"no lease on {self.keys.record} is held by this thread")
        with self._translated("check the lease"):
            answer = self._confirm_script(
                keys=[self.keys.lock, self.keys.version],
                args=[lease.token, lease.version, self._ttl_ms],
            )
        why = as_bytes(answer).decode()
        if why != "ok":
            raise self._refused(why)

    # -- the lease -------------------------------------------------------------------

    def lease_holder(self) -> str | None:
        """Who holds the writers' lease now (``pid P on HOST``), or None when nobody does."""
        with self._translated("read the lease"):
            token = self._client.get(self.keys.lock)
        return None if token is None else holder_of(token)

    def _take_lease(self) -> Lease:
        # A lease this store could not give back (Redis refused the release) is still
        # ours until its TTL: taking it again with its token renews it, where a new token
        # would wait for our own lease to expire.
        kept = self._unreleased
        token = kept if kept is not None and held_by_this_process(kept) else new_token()
        # Remembered before the wait: a take whose answer was lost may have got the lease.
        self._unreleased = token
        version = wait_for(
            lambda: self._try_lease(token),
            lock=self.keys.lock,
            timeout=self._lock_timeout,
            notify=self._notify,
            holder=self._named_holder,
        )
        self._unreleased = None  # taken: ours again, or a new one
        lease = Lease(token, version, threading.get_ident())
        if self._renew:
            lease.start_renewing(self._renew_lease, self._ttl_ms / 3000)
        return lease

    def _try_lease(self, token: str) -> int | None:
        with self._translated("take the lease"):
            version = self._acquire(
                keys=[self.keys.lock, self.keys.version], args=[token, self._ttl_ms]
            )
        return None if version is None else as_int(version)

    def _renew_lease(self, lease: Lease) -> bool:
        """Extend ``lease``; False once it is not ours any more (expired, taken)."""
        with self._translated("renew the lease"):
            return bool(self._renew_script(keys=[self.keys.lock], args=[lease.token, self._ttl_ms]))

    def _named_holder(self) -> str:
        """For the wait's one notice: who holds the lease, as well as can be read."""
        try:
            return self.lease_holder() or "another writer (it has just let go)"
        except StorageError:
            return "another writer"

    def _give_back(self, lease: Lease) -> None:
        """Release ``lease``. A failure is only logged: what the block did stands, and
        the lease expires by itself within its TTL."""
        lease.stop_renewing()
        try:
            with self._translated("release the lease"):
                self._release(keys=[self.keys.lock], args=[lease.token])
        except StorageError as exc:
            self._unreleased = lease.token
            log.info("%s; it expires within %g s", exc, self._ttl_ms / 1000)

    def _mine(self) -> Lease | None:
        """The lease, when this thread holds it."""
        lease = self._exclusion.held
        return lease if lease is not None and lease.thread == threading.get_ident() else None

    def _holding(self) -> bool:
        return self._mine() is not None

    def _saw(self, version: object) -> None:
        """Remember a version read under our lease: commits are fenced against it."""
        lease = self._mine()
        if lease is not None:
            lease.version = as_int(version)

    # -- reads and fenced commits ------------------------------------------------------

    def _read_version(self) -> int:
        with self._translated("read the credentials' version"):
            version = as_int(self._client.get(self.keys.version))
        self._saw(version)
        return version

    def _commit(self, action: str, data: bytes) -> bool:
        """Write under the lease, fenced; True when a record existed before."""
        lease = self._mine()
        if lease is None:  # save and delete take the lease first: never without it
            raise LeaseLost(f"nothing was written to {self.keys.record}: no lease is held")
        with self._translated("write the credentials"):
            answer = self._commit_script(
                keys=[self.keys.lock, self.keys.version, self.keys.record],
                args=[lease.token, lease.version, action, data],
            )
        if int(answer[0]) != 1:
            raise self._refused(as_bytes(answer[1]).decode())
        lease.version = as_int(answer[1])
        return bool(answer[2])

    def _refused(self, why: str) -> LeaseLost:
        if why == "lease":
            reason = (
                f"the lease {self.keys.lock} expired (the writer was paused or cut off for "
                f"longer than its {self._ttl_ms / 1000:g} s TTL) and may be another writer's now"
            )
        else:
            reason = "another writer committed a newer record since this one was read"
        return LeaseLost(
            f"nothing was written to {self.keys.record}: {reason}; read it again and retry"
        )

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Redis errors as StorageErrors naming the server, never the password."""
        try:
            yield
        except redis.RedisError as exc:
            raise self._server.error(doing, exc) from exc
