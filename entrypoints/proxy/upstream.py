"""The proxy's one upstream session: connections kept and reused, bounded waits.

One ``aiohttp.ClientSession`` for every proxied request: a request reuses a kept-alive
connection instead of opening (and TLS-handshaking) a new one. Its answers pass
through as sent: no decompression, no redirects followed, no cookies kept.
"""

from __future__ import annotations

import functools
import ssl

import aiohttp
import attrs
from multidict import CIMultiDictProxy

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.model_api import is_loopback

HOP_BY_HOP = frozenset(
    {
        # RFC 9110 §7.6.1, and the headers older proxies treat as hop-by-hop.
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)


@attrs.frozen(repr=False)
class Waits(FieldsRepr):
    """How long the proxy waits for the upstream, seconds: to connect, for the answer to
    begin, and between two reads of its body."""

    connect: float
    first_byte: float
    gap: float


def hop_by_hop(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    """The lower-case names of ``headers``' hop-by-hop headers: the fixed list and every
    name the ``Connection`` header lists."""
    named = {
        name.strip().lower()
        for value in headers.getall("Connection", [])
        for name in value.split(",")
    }
    return HOP_BY_HOP | named


class Upstream:
    """The shared sessions, opened on first use and closed by ``close()``: one for a
    loopback upstream, one for the others (through ``HTTPS_PROXY`` and the like, as the
    issuer is reached, trusting ``ca_file`` besides the system's CAs). A loopback
    upstream never goes through a proxy: its plain http would cross the network."""

    def __init__(self, waits: Waits, ca_file: str | None = None) -> None:
        self.waits = waits
        self._ssl = _ssl_context(ca_file)  # a bad bundle fails at start, not per request
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def session(self, host: str) -> aiohttp.ClientSession:
        """The session for requests to ``host``."""
        loopback = _loopback(host)
        session = self._sessions.get(loopback)
        if session is None:
            session = self._sessions[loopback] = self._new_session(remote=not loopback)
        return session

    def _new_session(self, *, remote: bool) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0, ssl=self._ssl),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=self.waits.connect, sock_read=None
            ),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            trust_env=remote,
        )

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


# The upstream's host is the configured one: one answer, not an address parsed per request.
_loopback = functools.lru_cache(maxsize=64)(is_loopback)


def _ssl_context(ca_file: str | None) -> ssl.SSLContext | bool:
    """The system's CAs and ``ca_file`` (``CODEX_CA_CERTIFICATE``, else
    ``SSL_CERT_FILE``); ConfigurationError naming it when it cannot be loaded."""
    if not ca_file:
        return True  # aiohttp's default verification
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the CA bundle {ca_file}: {exc}; fix CODEX_CA_CERTIFICATE / SSL_CERT_FILE"
        ) from exc
    return context
