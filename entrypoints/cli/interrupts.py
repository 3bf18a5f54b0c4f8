"""Ctrl-C: one line and exit 130, and a Ctrl-C during a refresh never forgotten."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from codex_login.entrypoints.cli.errors import Interrupted

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO


def say_interrupted(exc: BaseException | None, io: IO | None = None) -> None:
    """The one line for Ctrl-C: what it left behind, or "Cancelled."."""
    from codex_login.entrypoints.cli.io import IO  # noqa: PLC0415  (loaded already by main)

    (io or IO()).say(str(exc) if isinstance(exc, Interrupted) else "Cancelled.")


def stop_workers() -> None:
    """After Ctrl-C: a worker still waiting for its lock gives up (nothing sent, nothing
    written) instead of doing the command after the user cancelled it; one holding its
    lock finishes, and this waits for it. Then waits may run again (``main`` may run in a
    longer process)."""
    from codex_login.adapters.store_core import allow_waiting, stop_waiting  # noqa: PLC0415
    from codex_login.application.seam import settle  # noqa: PLC0415  (Ctrl-C only)

    stop_waiting()
    settle()
    allow_waiting()


@contextlib.contextmanager
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt wherever the main thread is, and a Ctrl-C seen
    is never forgotten. Under Python's own handler asyncio.run would cancel its task
    instead, and a task that finishes meanwhile returns its result as if no Ctrl-C
    had come: the token would be printed with exit 0."""
    import signal  # noqa: PLC0415  (only a refresh needs it)

    seen: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt
