"""The broker's metrics, in the Prometheus text format (``GET /metrics``).

Needs the ``metrics`` extra (``pip install 'codex-login[metrics]'``, the
``prometheus_client`` package); only the broker imports this module, and it answers
``/metrics`` with 404 and a message naming the extra when the package is missing
(``NoMetrics``). Each ``Metrics`` has a registry of its own: two brokers in one
process never share a count, and nothing registers in prometheus_client's global one.

Labels are a closed set: a client's name (a key's NAME from ``--client-keys``,
``secret`` for ``--secret-file``'s clients, ``uid=N`` on the socket), a status class,
a refresh outcome and the broker's error codes. No token, key or account id is
ever a label value.

The proxy reports through ``forwarded``, ``first_byte``, ``stream_opened`` and
``stream_closed``; the token routes through ``token_served`` and ``refresh``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from codex_login.entrypoints.observer import RefreshOutcome

# Upstream latencies: a few ms for a model listing to minutes for a long stream.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PREFIX = "codex_login_broker"


def status_class(status: int) -> str:
    """``2xx`` for 200-299 and so on; ``other`` for a status outside 100-599."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


class Metrics:
    """Counters, histograms and a gauge in a private ``CollectorRegistry``."""

    available = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._tokens = Counter(
            f"{PREFIX}_tokens_served",
            "Access tokens handed out by /v1/token and /v1/token/refresh.",
            registry=self.registry,
        )
        self._refreshes = Counter(
            f"{PREFIX}_refreshes",
            "Forced refreshes (POST /v1/token/refresh) by outcome: refreshed, "
            "current (the current token was answered) or failed (by error code).",
            ["outcome", "error"],
            registry=self.registry,
        )
        self._forwarded = Counter(
            f"{PREFIX}_proxied_requests",
            "Requests the proxy forwarded, by client name and status class.",
            ["client", "status_class"],
            registry=self.registry,
        )
        self._latency = Histogram(
            f"{PREFIX}_upstream_seconds",
            "Time from forwarding a request to the end of the upstream's answer.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._first_byte = Histogram(
            f"{PREFIX}_upstream_first_byte_seconds",
            "Time from forwarding a request to the first byte of the upstream's answer.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._streams = Gauge(
            f"{PREFIX}_streams_in_flight",
            "Proxied answers being streamed to clients now.",
            registry=self.registry,
        )

    # -- the token routes ---------------------------------------------------------------

    def token_served(self) -> None:
        self._tokens.inc()

    def refresh(self, outcome: RefreshOutcome, error: str = "") -> None:
        """One forced refresh; ``error`` is the broker's error code when it failed."""
        self._refreshes.labels(outcome=outcome, error=error).inc()

    # -- the proxy ----------------------------------------------------------------------

    def forwarded(self, client: str, status: int, seconds: float) -> None:
        """One proxied request answered with ``status`` after ``seconds``."""
        self._forwarded.labels(client=client, status_class=status_class(status)).inc()
        self._latency.observe(seconds)

    def first_byte(self, seconds: float) -> None:
        self._first_byte.observe(seconds)

    def stream_opened(self) -> None:
        self._streams.inc()

    def stream_closed(self) -> None:
        self._streams.dec()

    # -- the scrape ---------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The body and content type of a scrape."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
