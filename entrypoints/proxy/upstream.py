"""The proxy's one upstream session: connections kept and reused, bounded waits.

One ``aiohttp.ClientSession`` for every proxied request: a request reuses a kept-alive
connection instead of opening (and TLS-handshaking) a new one. Its answers pass
through as sent: no decompression, no redirects followed, no cookies kept.
"""

from __future__ import annotations

import aiohttp
import attrs
from multidict import CIMultiDictProxy

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


@attrs.frozen
class Waits:
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
    """The shared session, opened on first use and closed by ``close()``."""

    def __init__(self, waits: Waits) -> None:
        self.waits = waits
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=None, sock_connect=self.waits.connect, sock_read=None
                ),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
