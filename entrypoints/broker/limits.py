"""What one client can make the broker hold, and each peer's forced refreshes."""

from __future__ import annotations

import attrs

from codex_login.domain.fields_repr import FieldsRepr


@attrs.frozen(repr=False)
class Limits(FieldsRepr):
    """What one client can make the broker hold."""

    max_connections: int = 512  # per listener
    max_unproven: int = 16  # per listener: connections that have not proven who they are
    max_per_peer: int = 128  # per listener and peer; the broker's own uid is not limited
    max_body: int = 4096
    max_header: int = 4096
    max_headers: int = 32
    first_request_deadline: float = 5.0
    request_timeout: float = 75.0  # a refresh may take the issuer's full 60 s
    keepalive: float = 15.0
    shutdown_grace: float = 30.0
    forced_refresh_burst: int = 3  # per peer, then one per interval
    forced_refresh_interval: float = 10.0
    proxy_max_body: int = 32 << 20  # a proxied request's body, read whole before sending
    upstream_connect: float = 10.0  # the proxy's waits for the upstream
    upstream_first_byte: float = 300.0  # as Codex's stream_idle_timeout
    upstream_gap: float = 300.0  # between two reads of a streamed answer


class ForcedRefreshes:
    """Per peer, a bucket of forced refreshes: ``burst`` at once, refilled one per
    ``interval`` seconds."""

    MAX_PEERS = 1024

    def __init__(self, burst: int, interval: float) -> None:
        self._burst = burst
        self._interval = interval
        self._buckets: dict[object, tuple[float, float]] = {}  # peer: (tokens, when)

    def take(self, peer: object, now: float) -> bool:
        """Whether ``peer`` may force a refresh now (and count it)."""
        tokens, when = self._buckets.get(peer, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - when) / self._interval)
        if tokens < 1.0:
            self._buckets[peer] = (tokens, now)
            return False
        if len(self._buckets) >= self.MAX_PEERS:
            self._forget_full(now)
        self._buckets[peer] = (tokens - 1.0, now)
        return True

    def _forget_full(self, now: float) -> None:
        full = now - self._burst * self._interval
        self._buckets = {peer: kept for peer, kept in self._buckets.items() if kept[1] > full}
