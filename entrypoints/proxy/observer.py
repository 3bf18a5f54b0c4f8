"""What the proxy tells a metrics collector; the default tells no one."""

from __future__ import annotations

from typing import Protocol


class ProxyObserver(Protocol):
    """Called by the proxy as requests pass; must not block or raise."""

    def forwarded(self, client: str, status: int, seconds: float) -> None:
        """A proxied request ended with ``status`` after ``seconds`` (the whole answer)."""

    def first_byte(self, seconds: float) -> None:
        """The upstream's answer began ``seconds`` after the request was sent."""

    def stream_opened(self) -> None:
        """An answer began streaming to a client."""

    def stream_closed(self) -> None:
        """That stream ended (finished, failed or cut by the client)."""


class NoObserver:
    """The default: nothing is counted."""

    def forwarded(self, client: str, status: int, seconds: float) -> None:
        pass

    def first_byte(self, seconds: float) -> None:
        pass

    def stream_opened(self) -> None:
        pass

    def stream_closed(self) -> None:
        pass
