"""A clock for tests: time moves only when the test moves it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["START", "SettableClock"]

# An arbitrary fixed moment with microseconds, so that timestamp formatting shows.
START = datetime(2026, 11, 28, 10, 45, 43, 654531, tzinfo=UTC)


class SettableClock:
    """The ``Clock`` port with a time you set: pass it as ``clock=`` to ``CodexAuth``
    or ``bootstrap()`` and move it with ``advance()`` or ``set()``.

    It starts at ``START`` (2026-11-28 10:45:43.654531 UTC) unless told otherwise.
    Safe to read and move from several threads.
    """

    def __init__(self, start: datetime = START) -> None:
        self._lock = threading.Lock()
        self._now = _utc(start)

    def __repr__(self) -> str:
        return f"SettableClock({self.now().isoformat()})"

    @property
    def current(self) -> datetime:
        """The time ``now()`` returns (kept for tests written against the old FakeClock)."""
        return self.now()

    def now(self) -> datetime:
        """The clock's time, timezone-aware UTC."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta`` (backwards when negative); returns the new time."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``, which must be timezone-aware (it is converted to UTC)."""
        moment = _utc(moment)
        with self._lock:
            self._now = moment


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a clock's time must be timezone-aware, not {moment!r}")
    return moment.astimezone(UTC)
