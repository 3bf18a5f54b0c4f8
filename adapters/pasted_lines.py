"""Lines a user pastes (a terminal, a pipe, any blocking source), as an async iterator.

A browser login waits for its callback and for pastes at once, so reading must not
hold the event loop, and must not hold the process either: when the callback wins,
a read still waiting for a line is abandoned. Hence a daemon thread (``to_thread``
would make the interpreter wait for a line at exit), and for a file descriptor
plain ``os.read`` instead of ``sys.stdin``: a daemon thread parked inside a buffered
file object's lock can abort the interpreter's shutdown.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterable, Iterator

MAX_LINE = 64 * 1024  # longer than any address; a line that size is handed on, not kept


async def lines_in_background(source: Iterable[str]) -> AsyncIterator[str]:
    """The lines of ``source``, read in a daemon thread; ends when ``source`` does.

    A source that fails (a closed descriptor) simply ends. Once this iterator is
    closed the thread takes no further line from ``source``.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    stopped = threading.Event()

    def hand_over(line: str | None) -> bool:
        if stopped.is_set():
            return False
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the event loop is closed: nobody is waiting any more
            return False
        return True

    def read() -> None:
        try:
            for line in source:
                if not hand_over(line):
                    return
        except (OSError, ValueError):  # unreadable or closed: there will be no more lines
            pass
        hand_over(None)

    threading.Thread(target=read, name="codex-login-pasted-lines", daemon=True).start()
    try:
        while (line := await queue.get()) is not None:
            yield line
    finally:
        stopped.set()


def descriptor_lines(fd: int) -> Iterator[str]:
    """The lines read from file descriptor ``fd`` (UTF-8, undecodable bytes replaced)."""
    pending = b""
    while chunk := os.read(fd, 4096):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE:
            lines.append(pending)
            pending = b""
        for line in lines:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")
