"""Credentials in Redis, shared by many machines (the optional ``redis`` extra).

Keys, all under one hash tag so that they live in one Redis Cluster slot::

    {<prefix>:<name>}:record    the record, byte for byte what auth.json would hold
    {<prefix>:<name>}:version   a counter every commit increments: the fingerprint
    {<prefix>:<name>}:lock      the writers' lease: a random token that expires

The lock is a lease, not a flock: ``SET lock <token> NX PX <ttl>``, renewed by a
background thread every ttl/3 while held, and released only by its holder
(compare-and-delete). A holder that stops without releasing (killed, paused,
cut off) loses the lease when it expires, so the others are never blocked for
longer than the TTL.

A lease can therefore end while its holder still thinks it holds it. Commits
are fenced: one Lua script writes the record and increments the version only
while the lease still holds our token *and* the version is the one we read
under it; otherwise it writes nothing and ``save`` raises ``LeaseLost``. A
writer paused past its lease can never overwrite a newer record.

Every Redis failure becomes a ``StorageError`` naming the server (never the
password); there is no fallback to a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from codex_login.adapters import auth_json
from codex_login.domain.accounts import NAME_PATTERN, check_name
from codex_login.domain.errors import ConfigurationError, LeaseLost, LockTimeout, StorageError
from codex_login.domain.masking import scrub
from codex_login.domain.record import CredentialRecord, Loaded

try:
    import redis
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry
except ImportError as exc:  # the module is only imported when the redis store is chosen
    raise ConfigurationError(
        "the redis store needs the redis package, which is not installed; install it with: "
        "pip install 'codex-login[redis]' (or use CODEX_LOGIN_STORE=file)"
    ) from exc

DEFAULT_PREFIX = "codex-login"
DEFAULT_NAME = "default"
DEFAULT_LEASE_TTL = 30.0
DEFAULT_LOCK_TIMEOUT = 90.0
SOCKET_TIMEOUT = 5.0
WAIT_NOTICE_AFTER = 1.0
FIRST_BACKOFF = 0.01
MAX_BACKOFF = 0.5
TIMEOUT_VARIABLE = "CODEX_LOGIN_LOCK_TIMEOUT"
INVALIDATION_CHANNEL = "__redis__:invalidate"
SCHEMES = ("redis", "rediss", "unix")
# The TLS query parameters a URL may carry: where the trust anchors are, the client's own
# certificate, and the two verification switches, which are then held to their strict value
# (``_require_verification``). Every other ``ssl_*`` parameter that redis-py knows can
# weaken the handshake (``ssl_ciphers``, ``ssl_min_version``, ``ssl_exclude_verify_flags``),
# trust a certificate pasted into the URL (``ssl_ca_data``) or put a secret in it
# (``ssl_password``); one it does not know would fail only at the first command.
TLS_URL_PARAMETERS = frozenset(
    {
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_cert_reqs",
        "ssl_check_hostname",
    }
)

_Connection = redis.Connection | redis.UnixDomainSocketConnection

log = logging.getLogger(__name__)

# KEYS: lock, version. ARGV: token, ttl (ms). The version (0 when never written)
# once the lease is ours, else nil. Taking a lease we already hold renews it, so
# a retried call whose first reply was lost still succeeds.
ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[2]) or '0'
"""

# KEYS: lock. ARGV: token, ttl (ms). 1 when the lease was ours and now lasts ttl again.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock, version. ARGV: token, the version read under the lease, ttl (ms).
# 'ok' (and the lease lasts ttl again) while the lease is ours and nobody committed
# since we read; else 'lease' or 'version'.
CONFIRM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'lease'
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then
  return 'version'
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
"""

# KEYS: lock. ARGV: token. 1 when our lease was removed; another's is never touched.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lock, version, record. ARGV: token, the version read under the lease,
# 'save' or 'delete', the record's bytes (save).
# -> {1, new version, 1 when a record existed before}: committed;
#    {0, 'lease'}: another writer holds the lease now; {0, 'version'}: another writer
#    committed since we read. Nothing is written then.
# A lease that merely expired (nobody took it, nobody committed) still commits:
# the tokens it carries may be the only live ones, and the version proves that no
# one else wrote; a writer that takes the lease later confirms the version before
# it sends anything, and so adopts them.
# A retried commit whose first reply was lost finds its own write (the lease
# still ours, the version moved, the record already as asked) and reports it
# as committed.
# A missing version starts from the server's clock in microseconds, so that a
# Redis restarted empty never hands out a fingerprint it gave before.
COMMIT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, 'lease'}
end
local version = redis.call('GET', KEYS[2]) or '0'
local record = redis.call('GET', KEYS[3])
if version ~= ARGV[2] then
  if (ARGV[3] == 'save' and record == ARGV[4]) or (ARGV[3] == 'delete' and not record) then
    return {1, version, 1}
  end
  return {0, 'version'}
end
if ARGV[3] == 'delete' and not record then
  return {1, version, 0}
end
if ARGV[3] == 'delete' then
  redis.call('DEL', KEYS[3])
else
  redis.call('SET', KEYS[3], ARGV[4])
end
if version == '0' then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], now[1] .. string.rep('0', 6 - #now[2]) .. now[2])
end
return {1, redis.call('INCR', KEYS[2]), record and 1 or 0}
"""


@attrs.frozen
class Keys:
    """The keys of one stored login, under one hash tag."""

    prefix: str = DEFAULT_PREFIX
    name: str = DEFAULT_NAME

    def __attrs_post_init__(self) -> None:
        for what, value in (("prefix", self.prefix), ("login name", self.name)):
            if not value or "{" in value or "}" in value:
                raise ConfigurationError(
                    f"the Redis key {what} {value!r} must be non-empty, without braces"
                )

    @property
    def tag(self) -> str:
        return f"{{{self.prefix}:{self.name}}}"

    @property
    def record(self) -> str:
        return f"{self.tag}:record"

    @property
    def version(self) -> str:
        return f"{self.tag}:version"

    @property
    def lock(self) -> str:
        return f"{self.tag}:lock"


def connect(url: str, *, password: str | None = None, ca_file: str | None = None) -> redis.Redis:
    """A client for ``url`` (redis://, rediss://, unix://); no connection is made yet.

    ``password`` is used only when the URL carries none (``REDISCLI_AUTH``);
    ``ca_file`` is an extra CA bundle for rediss://. TLS is always verified.
    """
    shown = redact(url)
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"the Redis URL {shown} must start with redis://, rediss:// or unix://"
        )
    _refuse_unknown_tls_parameters(url, shown, tls=scheme == "rediss")
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        # A stale pooled connection is retried at once; an outage fails within a second.
        "retry": Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 2),
    }
    if password and not _url_password(url):
        options["password"] = password
    if scheme == "rediss":
        # Said, not assumed: redis-py's defaults have changed between releases. The URL's
        # own ssl_* values replace these and are held to the same by _require_verification.
        options.update(ssl_ca_certs=ca_file, ssl_cert_reqs="required", ssl_check_hostname=True)
    try:
        client = redis.Redis.from_url(url, **options)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"the Redis URL {shown} is not usable: {exc}") from exc
    if scheme == "rediss":
        _require_verification(client.connection_pool.connection_kwargs, shown)
    return client


def _refuse_unknown_tls_parameters(url: str, shown: str, *, tls: bool) -> None:
    """Refuse an ``ssl_*`` query parameter outside ``TLS_URL_PARAMETERS``, by name, and
    any of them in a URL without TLS (whose author may believe it has TLS)."""
    # The message names the parameter but not the query, whose values may be secrets
    # (ssl_password) that redact() does not know about.
    shown = shown.partition("?")[0]
    for name in parse_qs(urlsplit(url).query, keep_blank_values=True):
        if not name.lower().startswith("ssl"):
            continue
        if name not in TLS_URL_PARAMETERS:
            allowed = ", ".join(sorted(TLS_URL_PARAMETERS))
            raise ConfigurationError(
                f"the Redis URL {shown} sets {name}, which codex-login does not accept "
                f"(TLS is always verified); the TLS parameters it accepts are: {allowed}"
            )
        if not tls:
            raise ConfigurationError(
                f"the Redis URL {shown} sets {name} but does not use TLS; "
                "start it with rediss:// for TLS"
            )


def _require_verification(options: dict[str, Any], shown: str) -> None:
    """Hold the parsed TLS options to full verification: a certificate, for this host.

    Checked on what redis-py parsed rather than on the text, so that no spelling of
    ``none``, ``false`` or ``0`` gets through.
    """
    cert_reqs = options.get("ssl_cert_reqs")
    if (
        cert_reqs not in ("required", ssl.CERT_REQUIRED)
        or options.get("ssl_check_hostname") is not True
    ):
        raise ConfigurationError(f"the Redis URL {shown} turns off TLS verification; remove it")


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


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
        self._server = _Server.of(client)
        self._lock_timeout = lock_timeout
        self._ttl_ms = max(1, round(lease_ttl * 1000))
        self._renew = renew
        self._notify = notify or _log_notice
        self._acquire = client.register_script(ACQUIRE)
        self._renew_script = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._commit_script = client.register_script(COMMIT)
        self._confirm_script = client.register_script(CONFIRM)
        self._cache = _VersionCache(self._server, self.keys.version) if client_side_cache else None
        # The lease excludes other handles and hosts; this excludes other threads of ours.
        self._owner = threading.RLock()
        self._lease: _Lease | None = None

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
        return auth_json.decode(_as_bytes(data), self.location)

    def save(self, record: CredentialRecord) -> None:
        data = auth_json.encode(record)
        with self.exclusive():
            self._commit("save", data)

    def delete(self) -> bool:
        with self.exclusive():
            return self._commit("delete", b"")

    @property
    def fingerprint_is_remote(self) -> bool:
        """Without the client-side cache every ``fingerprint()`` asks Redis."""
        return self._cache is None

    def fingerprint(self) -> Hashable:
        if self._cache is None or self._holding():
            return self._read_version()
        with self._translated("read the credentials' version"):
            return self._cache.get(self._read_version)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lease; re-entrant for the thread that holds it."""
        if not self._owner.acquire(timeout=self._lock_timeout):
            raise LockTimeout(
                f"gave up after {self._lock_timeout:g} s waiting for another thread "
                f"writing {self.keys.record}"
            )
        try:
            if self._lease is not None:  # this thread holds it already
                yield
                return
            lease = self._take_lease()
            self._lease = lease
            try:
                yield
            finally:
                self._lease = None
                self._give_back(lease)
        finally:
            self._owner.release()

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
        why = _as_bytes(answer).decode()
        if why != "ok":
            raise self._refused(why)

    # -- the lease -------------------------------------------------------------------

    def _take_lease(self) -> _Lease:
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._lock_timeout
        notice_at = time.monotonic() + WAIT_NOTICE_AFTER
        told = False
        delay = FIRST_BACKOFF
        while (version := self._try_lease(token)) is None:
            now = time.monotonic()
            if now >= deadline:
                raise LockTimeout(
                    f"gave up after {self._lock_timeout:g} s waiting for the lease "
                    f"{self.keys.lock} held by another writer; set {TIMEOUT_VARIABLE} "
                    "to wait longer"
                )
            if not told and now >= notice_at:
                told = True
                self._notify(
                    f"Waiting for the lease {self.keys.lock} held by another writer; giving "
                    f"up after {self._lock_timeout:g} s ({TIMEOUT_VARIABLE} changes this)"
                )
            # Full jitter: waiters spread out instead of retrying in step; a pending
            # notice is not slept past.
            wake = deadline if told else min(deadline, notice_at)
            time.sleep(max(0.0, min(_jitter.uniform(delay / 2, delay), wake - now)))
            delay = min(delay * 2, MAX_BACKOFF)
        lease = _Lease(token, version, threading.get_ident())
        if self._renew:
            lease.start_renewing(self._renew_lease, self._ttl_ms / 3000)
        return lease

    def _try_lease(self, token: str) -> int | None:
        with self._translated("take the lease"):
            version = self._acquire(
                keys=[self.keys.lock, self.keys.version], args=[token, self._ttl_ms]
            )
        return None if version is None else _as_int(version)

    def _renew_lease(self, lease: _Lease) -> bool:
        """Extend ``lease``; False once it is not ours any more (expired, taken)."""
        with self._translated("renew the lease"):
            return bool(self._renew_script(keys=[self.keys.lock], args=[lease.token, self._ttl_ms]))

    def _give_back(self, lease: _Lease) -> None:
        """Release ``lease``. A failure is only logged: what the block did stands, and
        the lease expires by itself within its TTL."""
        lease.stop_renewing()
        try:
            with self._translated("release the lease"):
                self._release(keys=[self.keys.lock], args=[lease.token])
        except StorageError as exc:
            log.info("%s; it expires within %g s", exc, self._ttl_ms / 1000)

    def _mine(self) -> _Lease | None:
        """The lease, when this thread holds it."""
        lease = self._lease
        return lease if lease is not None and lease.thread == threading.get_ident() else None

    def _holding(self) -> bool:
        return self._mine() is not None

    def _saw(self, version: object) -> None:
        """Remember a version read under our lease: commits are fenced against it."""
        lease = self._mine()
        if lease is not None:
            lease.version = _as_int(version)

    # -- reads and fenced commits ------------------------------------------------------

    def _read_version(self) -> int:
        with self._translated("read the credentials' version"):
            version = _as_int(self._client.get(self.keys.version))
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
            raise self._refused(_as_bytes(answer[1]).decode())
        lease.version = _as_int(answer[1])
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


# -- the lease's renewal ---------------------------------------------------------------

_jitter = random.SystemRandom()


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
            found = {_as_bytes(key).decode() for key in self._client.scan_iter(match=pattern)}
        except redis.RedisError as exc:
            raise _Server.of(self._client).error("list the accounts", exc) from exc
        names = {key[start : key.index("}", start)] for key in found}
        return sorted(name for name in names if NAME_PATTERN.fullmatch(name))

    def slot(self, name: str) -> RedisCredentialStore:
        return self._make(ACCOUNT_NAME_PREFIX + check_name(name))


def _glob_escaped(text: str) -> str:
    """``text`` matched literally by a Redis glob (SCAN MATCH)."""
    return "".join("\\" + c if c in "*?[]\\^" else c for c in text)


class _Lease:
    """A lease we hold: its token, the version last read under it, its renewal."""

    def __init__(self, token: str, version: int, thread: int) -> None:
        self.token = token
        self.version = version
        self.thread = thread
        self._released = threading.Event()

    def __repr__(self) -> str:
        return f"_Lease(version={self.version})"  # the token stays out of reprs

    def start_renewing(self, renew: Callable[[_Lease], bool], every: float) -> None:
        threading.Thread(
            target=self._renew_until_released,
            args=(renew, every),
            name="codex-login lease renewal",
            daemon=True,
        ).start()

    def stop_renewing(self) -> None:
        self._released.set()

    def _renew_until_released(self, renew: Callable[[_Lease], bool], every: float) -> None:
        while not self._released.wait(every):
            try:
                if not renew(self):
                    log.info("the Redis lease expired before renewal; commits will be refused")
                    return
            except StorageError as exc:  # a blip: the next renewal may get through
                log.info("could not renew the Redis lease: %s", exc)


# -- the server, for messages and for the cache's own connection -------------------------


@attrs.frozen
class _Server:
    url: str  # without the password
    address: str  # host:port or the socket's path
    password: str | None = attrs.field(repr=False)
    connection: Callable[[], _Connection] = attrs.field(repr=False)

    @classmethod
    def of(cls, client: redis.Redis) -> _Server:
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
        reason = scrub(" ".join(str(exc).split()), [self.password or ""]) or type(exc).__name__
        if isinstance(exc, redis.AuthenticationError):
            return StorageError(
                f"Redis at {self.address} refused our credentials ({reason}); "
                "check the user and password"
            )
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return StorageError(
                f"cannot reach Redis at {self.address} to {doing} ({reason}); "
                "it may be a passing outage: try again"
            )
        return StorageError(f"Redis at {self.address} refused to {doing}: {reason}")


CACHE_MAX_AGE = 30.0  # seconds a cached version is used without asking Redis


class _VersionCache:
    """The version, kept until Redis says it changed: server-assisted client-side caching.

    One connection of our own subscribes to ``__redis__:invalidate`` and has Redis
    announce there every write of the version key (``CLIENT TRACKING ON REDIRECT
    <itself> BCAST PREFIX <key>``, Redis 6+; RESP2, so any client setting works).
    While no announcement is waiting on that socket, the cached version is current:
    reading it costs one poll of the socket, no round trip. If the connection
    breaks, tracking ended with it: the cache is dropped and set up again.
    """

    def __init__(self, server: _Server, key: str) -> None:
        self._server = server
        self._key = key
        self._lock = threading.Lock()
        self._listener: _Connection | None = None
        self._pid = os.getpid()
        self._version: int | None = None
        self._read_at = 0.0

    def get(self, read: Callable[[], int]) -> int:
        with self._lock:
            try:
                self._drain()
            except redis.RedisError:
                self._forget()
                raise
            # A listener silently cut (an idle connection dropped by a NAT) would
            # announce nothing ever again: a cached version is trusted for so long only.
            if self._version is None or time.monotonic() - self._read_at > CACHE_MAX_AGE:
                self._version = read()  # an announcement that follows clears it again
                self._read_at = time.monotonic()
            return self._version

    def _drain(self) -> None:
        """Take in every announcement waiting; any of them means the version changed.

        A listener that broke (a restart, a cut connection) took tracking with it:
        it is replaced, and the cached version dropped.
        """
        if self._pid != os.getpid():  # a forked child must not share its parent's socket
            self._listener, self._version, self._pid = None, None, os.getpid()
        listener = self._listener
        try:
            while listener is not None and listener.can_read(timeout=0):
                listener.read_response()
                self._version = None
        except redis.ConnectionError:
            self._forget()
        if self._listener is None:
            self._listen()

    def _listen(self) -> None:
        listener = self._server.connection()
        try:
            own_id = _call(listener, "CLIENT", "ID")
            _call(
                listener,
                "CLIENT",
                "TRACKING",
                "ON",
                "REDIRECT",
                own_id,
                "BCAST",
                "PREFIX",
                self._key,
            )
            _call(listener, "SUBSCRIBE", INVALIDATION_CHANNEL)
        except BaseException:
            _disconnect(listener)
            raise
        self._listener, self._version = listener, None

    def _forget(self) -> None:
        if self._listener is not None:
            _disconnect(self._listener)
        self._listener, self._version = None, None


# redis-py leaves ``send_command`` and ``disconnect`` unannotated; these give them types.


def _call(connection: _Connection, *args: str | int) -> Any:
    send: Callable[..., None] = connection.send_command
    send(*args)
    return connection.read_response()


def _disconnect(connection: _Connection) -> None:
    disconnect: Callable[[], None] = connection.disconnect
    disconnect()


def _as_bytes(value: object) -> bytes:
    """A reply as bytes, whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _as_int(value: object) -> int:
    """A counter as Redis returns it (bytes, str, int; None when absent) as an int."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(_as_bytes(value))
