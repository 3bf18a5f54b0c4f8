"""The broker's log lines: one per request, escaped and truncated; one for a request
aiohttp cannot parse, never the request itself."""

from __future__ import annotations

import logging
from collections.abc import Callable


def printable(text: str, limit: int = 128) -> str:
    """``text`` for a log line: control and non-ASCII characters and backslashes escaped,
    then truncated, so a client can neither forge log lines nor drive a terminal."""
    escaped = text[: limit + 1].encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def quiet_logger(say: Callable[[str], None]) -> logging.Logger:
    """aiohttp's own log for requests it cannot parse: one line, never the request.

    Its default logs a traceback holding the raw request bytes, which can hold a
    bearer secret.
    """
    logger = logging.getLogger(f"{__name__}.http")
    logger.propagate = False
    logger.handlers = [_OneLine(say)]
    return logger


class _OneLine(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        what = type(error).__name__ if error is not None else "an unreadable request"
        self._say(f"- rejected a request that is not valid HTTP ({what})")
