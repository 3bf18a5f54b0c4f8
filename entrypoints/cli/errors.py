"""The command line's exit codes and the exceptions that end a command."""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# A reader that stops early (`codex-login status --json | head -1`) is no failure of ours:
# end quietly with the status a shell shows for a tool killed by SIGPIPE, as git and the
# coreutils do (128 + 13, like 130 = 128 + SIGINT), so `set -o pipefail` still sees it.
EXIT_STDOUT_CLOSED = 141


class UsageError(Exception):
    """Bad command-line input: exit 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, and the one line that says what it left behind (instead of "Cancelled.")."""


class StdoutClosed(Exception):
    """Whoever read stdout has gone (``| head``): end quietly, exit 141."""


class StdoutUnwritable(Exception):
    """stdout cannot take what a command prints (closed, a full disk): one line, exit 1."""


def causes(error: BaseException) -> list[BaseException]:
    """The chain of underlying errors, for -v only (never a reason to act differently)."""
    chain: list[BaseException] = []
    cause = error.__cause__
    while cause is not None and cause not in chain and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__
    return chain
