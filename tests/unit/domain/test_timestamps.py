"""One timestamp format, written as the Codex CLI writes auth.json, read in any precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.timestamps import format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:45:43.654531020Z", datetime(2026, 11, 28, 10, 45, 43, 654531, tzinfo=UTC)),
        ("2025-08-06T20:41:36.232376Z", datetime(2025, 8, 6, 20, 41, 36, 232376, tzinfo=UTC)),
        ("2025-08-06T20:41:36Z", datetime(2025, 8, 6, 20, 41, 36, tzinfo=UTC)),
        ("2025-08-06T22:41:36.5+02:00", datetime(2025, 8, 6, 20, 41, 36, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps_with_any_precision_are_read(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "2026-01-02T03:04:05Z"),
        (5000, "2026-01-02T03:04:05.005Z"),
        (7, "2026-01-02T03:04:05.000007Z"),
    ],
)
def test_timestamps_are_written_like_chrono(micros: int, text: str) -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, micros, tzinfo=UTC)) == text


def test_a_moment_in_another_zone_is_written_in_utc() -> None:
    moment = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("text", ["", "2026-01-02", "2026-01-02T03:04:05", "yesterday"])
def test_text_that_is_no_rfc_3339_moment_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_timestamp(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_what_is_written_reads_back_as_the_same_moment(moment: datetime) -> None:
    assert parse_timestamp(format_timestamp(moment)) == moment
