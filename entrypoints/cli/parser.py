"""The top-level parser. Each command's parser is set up by its own module, loaded
only when that command runs or shows its help: the table gives names and summaries."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from codex_login.entrypoints.cli import formatting
from codex_login.entrypoints.cli.formatting import CODEX_HOME_HELP, HelpFormatter
from codex_login.entrypoints.cli.table import COMMANDS

DESCRIPTION = (
    "Sign in with ChatGPT or an OpenAI API key, and hand out valid bearer tokens.\n"
    "Credentials live in $CODEX_HOME/auth.json (or the store CODEX_LOGIN_STORE\n"
    "names), shared with the Codex CLI."
)
EPILOG = (
    "Run `codex-login help COMMAND` for a command's description, examples and\n"
    "environment. Messages go to stderr, data (tokens, JSON) to stdout.\n\n"
    "exit status:\n"
    "  0 success, 1 failure, 2 usage error, 4 `token` and `refresh`: a person must\n"
    "  log in, 130 interrupted, 141 whoever read stdout went away"
)


class Parser(argparse.ArgumentParser):
    """argparse's, adding "did you mean ...?" to a mistyped command."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            choices = [str(choice) for choice in action.choices or ()]
            close = difflib.get_close_matches(str(value), choices, n=1)
            if not close:
                raise
            raise argparse.ArgumentError(
                action, f"{exc.message}; did you mean {close[0]!r}?"
            ) from exc


class CommandParser(Parser):
    """A command's parser, set up by its module the first time it parses or shows help."""

    def __init__(
        self, *args: Any, setup: Callable[[argparse.ArgumentParser], None] | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self._setup = setup

    def ready(self) -> CommandParser:
        if self._setup is not None:
            setup, self._setup = self._setup, None
            setup(self)
        return self

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.ready()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.ready()
        return super().format_usage()

    def format_help(self) -> str:
        self.ready()
        return super().format_help()


def setup_of(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def setup(parser: argparse.ArgumentParser) -> None:
        module = import_module(COMMANDS[name].module)
        parser.description, parser.epilog = module.ABOUT, module.EPILOG
        module.configure(parser)

    return setup


def build() -> tuple[argparse.ArgumentParser, dict[str, CommandParser]]:
    """The top-level parser, and each command's parser by name (for its usage errors)."""
    parser = Parser(
        prog="codex-login", formatter_class=HelpFormatter, description=DESCRIPTION, epilog=EPILOG
    )
    parser.add_argument("--version", action=formatting.Version, help="print the version and exit")
    parser.add_argument("--codex-home", type=Path, metavar="DIR", help=CODEX_HOME_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    # The global options after the command too (`codex-login status -v --codex-home DIR`);
    # SUPPRESS keeps a value given before the command from being reset by this default.
    common = CommandParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument(
        "--codex-home", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=CODEX_HOME_HELP
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say more"
    )
    # prog: what argparse would lay out a usage line (and measure the terminal) to find.
    # Not required: a bare `codex-login` shows the help, `--bogus` alone says it is unknown.
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", prog="codex-login", parser_class=CommandParser
    )
    commands: dict[str, CommandParser] = {}
    for name, command in COMMANDS.items():
        commands[name] = subparsers.add_parser(
            name,
            parents=[common],
            help=command.summary,
            formatter_class=HelpFormatter,
            setup=setup_of(name),
        )
    help_ = subparsers.add_parser(
        "help",
        help="show the help of codex-login or of one command",
        description="Show the help of codex-login, or of COMMAND (the same as COMMAND --help).",
        formatter_class=formatting.SizedHelpFormatter,
    )
    help_.add_argument(
        "topic", nargs="?", choices=[*commands, "help"], metavar="COMMAND", help="a command"
    )
    commands["help"] = help_
    return parser, commands
