"""The one IO object every command writes through: stdout, stderr, stdin, terminals,
and a reader of stdout that went away. ``FakeIO`` is the same over memory, for tests."""

from __future__ import annotations

import contextlib
import io as _io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from codex_login.domain.printable import printable
from codex_login.entrypoints.cli.errors import (
    EXIT_FAILURE,
    EXIT_STDOUT_CLOSED,
    StdoutClosed,
    StdoutUnwritable,
)


class IO:
    """The streams of a command; the process's own unless given."""

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.stdin = stdin if stdin is not None else sys.stdin

    def say(self, message: str) -> None:
        """A message to stderr; the last guard: no control character but our line breaks."""
        print(printable(message, keep_newlines=True), file=self.stderr)

    def emit(self, data: str) -> None:
        """Data to stdout, flushed now: a closed pipe then stops us before any more is said."""
        with self._writing():
            print(printable(data, keep_newlines=True), file=self.stdout, flush=True)

    def emit_bytes(self, data: bytes) -> None:
        """Bytes to stdout as they are (a credential document), flushed now."""
        with self._writing():
            self.stdout.buffer.write(data)
            self.stdout.flush()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A reader gone is StdoutClosed; stdout closed before we started (Python then
        has none) or a write that fails (a full disk) is StdoutUnwritable."""
        if self.stdout is None:  # `>&-`: print() would drop the data and say nothing
            raise StdoutUnwritable("cannot write to stdout: it is closed")
        try:
            yield
        except BrokenPipeError as exc:  # only here: a broken pipe elsewhere is no reader gone
            raise StdoutClosed from exc
        except OSError as exc:
            raise StdoutUnwritable(f"cannot write to stdout: {exc.strerror or exc}") from exc

    def read_stdin(self, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of stdin; None when there is no stdin at all."""
        if self.stdin is None:
            return None
        return bytes(self.stdin.buffer.read(limit))

    def stdin_is_terminal(self) -> bool:
        return self.stdin is not None and self.stdin.isatty()

    def stdout_is_terminal(self) -> bool:
        return self.stdout is not None and self.stdout.isatty()

    def stdin_descriptor(self) -> int | None:
        """stdin's file descriptor, or None when it is none or not a real file."""
        try:
            return self.stdin.fileno()
        except (AttributeError, OSError, ValueError, _io.UnsupportedOperation):
            return None

    def stdout_closed(self) -> int:
        """End quietly when whoever reads stdout has gone away."""
        self._silence_stdout()
        return EXIT_STDOUT_CLOSED

    def stdout_unwritable(self, error: StdoutUnwritable) -> int:
        """Say once that stdout could not take the output, and fail."""
        self.say(f"Error: {error}")
        self._silence_stdout()
        return EXIT_FAILURE

    def _silence_stdout(self) -> None:
        # Python flushes stdout again at exit; pointing it at /dev/null keeps that flush
        # from failing too and printing "Exception ignored ... BrokenPipeError".
        try:
            stdout = self.stdout.fileno()
        except (AttributeError, OSError, ValueError, _io.UnsupportedOperation):
            return  # none, or not a real file (embedded, captured): nothing to flush
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout)
        os.close(devnull)


class _Terminal(_io.TextIOWrapper):
    """A text stream over memory that says whether it is a terminal."""

    def __init__(self, data: bytes = b"", *, tty: bool = False) -> None:
        self._memory = _io.BytesIO(data)
        super().__init__(self._memory, encoding="utf-8", newline="\n")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def text(self) -> str:
        self.flush()
        return self._memory.getvalue().decode("utf-8")


class FakeIO(IO):
    """The streams in memory: ``stdin`` given as bytes, ``out()``/``err()`` read back."""

    def __init__(
        self, stdin: bytes = b"", *, stdin_tty: bool = False, stdout_tty: bool = False
    ) -> None:
        super().__init__(_Terminal(tty=stdout_tty), _Terminal(), _Terminal(stdin, tty=stdin_tty))

    def out(self) -> str:
        assert isinstance(self.stdout, _Terminal)  # noqa: S101
        return self.stdout.text()

    def err(self) -> str:
        assert isinstance(self.stderr, _Terminal)  # noqa: S101
        return self.stderr.text()
