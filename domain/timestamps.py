"""The one way moments are written and read: RFC 3339, UTC, ``Z``.

auth.json's ``last_refresh`` is written as the Codex CLI's time library (chrono, with
``AutoSi`` precision) writes it; the CLI's and the broker's JSON documents use the same
format, so a moment reads the same wherever it is shown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)"
)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with ``Z``, fractional digits as chrono's AutoSi writes them."""
    moment = moment.astimezone(UTC)
    base = moment.replace(tzinfo=None).isoformat(timespec="seconds")  # 4-digit years
    micros = moment.microsecond
    if micros == 0:
        return f"{base}Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse RFC 3339 (any number of fractional digits) into UTC; raises ValueError."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7) or "0", match.group(8)
    micros = int(fraction[:6].ljust(6, "0"))
    try:
        zone = UTC if offset in "Zz" else _offset(offset)
        moment = datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{text!r} is not a valid moment: {exc}") from exc


def _offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
