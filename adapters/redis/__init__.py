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

One module per job: ``config`` (the URL, TLS, the client and the key layout),
``scripts`` (the Lua run on the server), ``server`` (messages and raw connections),
``lease`` (waiting for the lease and renewing it), ``store`` (the fenced
``RedisCredentialStore``), ``version_cache`` (client-side caching of the version)
and ``shelf`` (inactive accounts). This package's ``__init__`` only checks that the
redis package is installed, so that every module here can import it.
"""

from __future__ import annotations

from codex_login.domain.errors import ConfigurationError

try:
    import redis  # noqa: F401  (only checked here)
except ImportError as exc:  # the package is only imported when the redis store is chosen
    raise ConfigurationError(
        "the redis store needs the redis package, which is not installed; install it with: "
        "pip install 'codex-login[redis]' (from a checkout: pip install '.[redis]'), or use "
        "CODEX_LOGIN_STORE=file"
    ) from exc
