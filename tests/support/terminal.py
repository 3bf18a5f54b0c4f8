"""A command on a pseudo-terminal of its own, as a person types at it in a shell."""

from __future__ import annotations

import os
import select
import time

from support.cli import CLI
from support.posix import posix_module


def at_a_terminal(args: list[str], env: dict[str, str], typed: bytes) -> tuple[int, str]:
    """Run the command on a new pseudo-terminal (its controlling one, as in a shell).

    Types ``typed`` once the prompt is shown; returns the exit status and everything
    the terminal displayed, echo included.
    """
    pid, controller = posix_module("pty").fork()
    if pid == 0:  # the child: become the command
        try:
            os.execve(str(CLI), [str(CLI), *args], env)  # noqa: S606  (no shell, on purpose)
        finally:
            os._exit(127)
    shown = b""
    typed_yet = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not typed_yet and b"(input is hidden): " in shown:
                os.write(controller, typed)
                typed_yet = True
    finally:
        os.close(controller)
        _, status = os.waitpid(pid, 0)
    assert typed_yet, shown
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")
