"""The Redis store and shelf, wired from the environment: loaded only when
``CODEX_LOGIN_STORE=redis`` (or config) picks Redis, so other commands never build
these classes at start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints.bootstrap import Environ, settings_of

if TYPE_CHECKING:
    from codex_login.domain.ports import AccountShelf, CredentialStore


@attrs.frozen(repr=False)
class RedisSettings(FieldsRepr):
    """Where the ``redis`` store connects, from the environment."""

    url: str = attrs.field(repr=False)  # may carry a password
    prefix: str
    password: str | None = attrs.field(repr=False)
    ca_file: str | None


def redis_settings_from(environ: Environ) -> RedisSettings:
    """``CODEX_LOGIN_REDIS_URL`` (redis://, rediss://, unix://; user and password may be in
    it), ``CODEX_LOGIN_REDIS_PREFIX``, ``REDISCLI_AUTH`` (the password when the URL has
    none), and the extra CA bundle for rediss:// (``CODEX_CA_CERTIFICATE``, ``SSL_CERT_FILE``).
    """
    settings = settings_of(environ)
    url = settings.redis_url or ""
    if not url:
        raise ConfigurationError(
            "CODEX_LOGIN_STORE=redis needs CODEX_LOGIN_REDIS_URL, e.g. redis://localhost:6379/0"
        )
    return RedisSettings(
        url=url,
        prefix=settings.redis_prefix or "codex-login",
        password=settings.redis_password,
        ca_file=settings.ca_file,
    )


def redis_store_from(
    settings: RedisSettings, *, lock_timeout: float, notify: Callable[[str], None] | None
) -> CredentialStore:
    """The Redis store; the redis package loads only now (its absence is a ConfigurationError)."""
    from codex_login.adapters.redis.config import connect  # noqa: PLC0415
    from codex_login.adapters.redis.store import RedisCredentialStore  # noqa: PLC0415

    client = connect(settings.url, password=settings.password, ca_file=settings.ca_file)
    return RedisCredentialStore(
        client, prefix=settings.prefix, lock_timeout=lock_timeout, notify=notify
    )


def redis_shelf_from(
    settings: RedisSettings, *, lock_timeout: float, notify: Callable[[str], None] | None
) -> AccountShelf:
    from codex_login.adapters.redis.config import connect  # noqa: PLC0415
    from codex_login.adapters.redis.shelf import RedisShelf  # noqa: PLC0415
    from codex_login.adapters.redis.store import RedisCredentialStore  # noqa: PLC0415

    client = connect(settings.url, password=settings.password, ca_file=settings.ca_file)

    def slot(name: str) -> RedisCredentialStore:
        return RedisCredentialStore(
            client, prefix=settings.prefix, name=name, lock_timeout=lock_timeout, notify=notify
        )

    return RedisShelf(client, slot, prefix=settings.prefix)
