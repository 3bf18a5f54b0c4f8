"""Fakes for the ports: they record what happened instead of mocking calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

NOW = datetime(2026, 11, 28, 10, 45, 43, 654531, tzinfo=UTC)


@attrs.define
class FakeClock:
    current: datetime = NOW

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
