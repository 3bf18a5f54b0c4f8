"""What the broker reports to, with or without the ``metrics`` extra.

``Observer`` is the port the broker's routes (and the proxy) call; ``Metrics``
(``entrypoints/metrics.py``, with prometheus_client) implements it, and so does
``NoMetrics``, which counts nothing: the broker serves the same without the extra,
and ``GET /metrics`` then answers 404 naming the extra to install.
"""

from __future__ import annotations

from typing import Literal, Protocol

from codex_login.entrypoints.proxy.observer import NoObserver

RefreshOutcome = Literal["refreshed", "current", "failed"]

MISSING = (
    "metrics need the metrics extra: pip install 'codex-login[metrics]' "
    "(from a checkout: pip install '.[metrics]')"
)


class Observer(Protocol):
    available: bool

    def token_served(self) -> None: ...
    def refresh(self, outcome: RefreshOutcome, error: str = "") -> None: ...
    def forwarded(self, client: str, status: int, seconds: float) -> None: ...
    def first_byte(self, seconds: float) -> None: ...
    def stream_opened(self) -> None: ...
    def stream_closed(self) -> None: ...
    def exposition(self) -> tuple[bytes, str]: ...


class NoMetrics(NoObserver):
    """An observer that counts nothing (the ``metrics`` extra is not installed): the
    proxy's silent observer, and the broker's own events unheard too."""

    available = False

    def token_served(self) -> None:
        pass

    def exposition(self) -> tuple[bytes, str]:
        raise LookupError(MISSING)


def load_metrics() -> Observer:
    """``Metrics`` with a registry of its own, or ``NoMetrics`` without prometheus_client."""
    try:
        # Only the broker loads prometheus_client, and only when it is installed.
        from codex_login.entrypoints.metrics import Metrics  # noqa: PLC0415
    except ImportError:
        return NoMetrics()
    return Metrics()
