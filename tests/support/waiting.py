"""The one poll loop of the tests: wait for a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL = 0.01  # seconds between two looks at the condition


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Return once ``condition()`` is true; fail after ``timeout`` seconds, naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"gave up after {timeout:g} s waiting for {what or 'the condition'}"
            )
        time.sleep(POLL)
