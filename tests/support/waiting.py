"""The one poll loop of the tests: wait for a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL = 0.01  # seconds between two looks at the condition


def wait_until(
    condition: Callable[[], object],
    timeout: float = 30.0,
    what: str = "",
    *,
    poll: float = POLL,
    error: Callable[[str], Exception] = AssertionError,
) -> None:
    """Return once ``condition()`` is true; after ``timeout`` seconds raise ``error`` with
    a message naming ``what``. ``condition`` may raise to stop waiting early (a server
    that exited will not start). ``poll``: the pause between two looks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise error(f"gave up after {timeout:g} s waiting for {what or 'the condition'}")
        time.sleep(poll)
