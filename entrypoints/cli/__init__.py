"""The ``codex-login`` command line: a module per command (``table.COMMANDS``)."""

from codex_login.entrypoints.cli.dispatch import main
from codex_login.entrypoints.cli.interrupts import say_interrupted

__all__ = ["main", "say_interrupted"]
