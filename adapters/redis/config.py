"""Where the Redis server is and how to reach it: the URL (TLS always verified) and the keys."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr

DEFAULT_PREFIX = "codex-login"
DEFAULT_NAME = "default"
SOCKET_TIMEOUT = 5.0
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


@attrs.frozen(repr=False)
class Keys(FieldsRepr):
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
    _refuse_a_database_that_is_no_number(url, shown, unix=scheme == "unix")
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        # A stale pooled connection (reset, refused) is retried at once, and a server
        # that is down fails within a second. A timeout is not retried: the server was
        # reached and did not answer (or a rediss:// URL met a server without TLS), and
        # two more waits of SOCKET_TIMEOUT would only hold the command three times as long.
        "retry": Retry(
            ExponentialWithJitterBackoff(cap=0.5, base=0.05),
            2,
            supported_errors=(redis.ConnectionError,),
        ),
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


def _refuse_a_database_that_is_no_number(url: str, shown: str, *, unix: bool) -> None:
    """redis-py reads a path it cannot parse as a number (``/O``, ``/abc``) as database 0:
    a typo would then share another login's database without a word."""
    if unix:  # the path is the socket's; the database is ?db=, which redis-py checks
        return
    path = urlsplit(url).path.strip("/")
    if path and not path.isdigit():
        raise ConfigurationError(
            f"the Redis URL {shown.partition('?')[0]} names the database {path!r}; "
            "a database is a number (redis://HOST:PORT/0)"
        )


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
