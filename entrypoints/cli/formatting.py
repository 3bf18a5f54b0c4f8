"""argparse's help formatters, measuring the terminal only to lay out help, and the
option types and actions the commands share (``shared`` holds what needs no argparse)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

UNMEASURED = 78  # a formatter's width until it lays out help
CODEX_HOME_HELP = "credential directory (default: $CODEX_HOME or ~/.codex)"


class SizedHelpFormatter(argparse.HelpFormatter):
    """argparse's, measuring the terminal only when it lays out help.

    argparse also builds a formatter for every argument it is given (to check its
    metavar), and its own measures the terminal as it is made, with shutil: importing
    shutil (bz2, lzma, zlib) cost every command about 1.5 ms. The width is argparse's,
    ``shutil.get_terminal_size()``, taken when ``format_help`` runs.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or UNMEASURED)
        self._measure = width is None
        self._asked_position = max_help_position

    def format_help(self) -> str:
        if self._measure:
            import shutil  # noqa: PLC0415  (see above)

            # argparse's __init__ sizes these two from the width (minus its margin of 2)
            self._width = shutil.get_terminal_size().columns - 2
            self._max_help_position = min(
                self._asked_position, max(self._width - 20, self._indent_increment * 2)
            )
            self._measure = False
        return super().format_help()


class HelpFormatter(SizedHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The same, keeping the lines of the descriptions and epilogs as written."""


class Version(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.pop("default", None)
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            number = version("codex-login")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "(version unknown: not installed)"
        print(f"codex-login {number}")
        parser.exit()


def port(text: str) -> int:
    try:
        number = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from exc
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not between 0 and 65535")
    return number


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError("the timeout must be more than 0 seconds")
    return value
