"""The top-level parser. Each command's parser is set up by its own module, loaded
only when that command runs or shows its help: the table gives names and summaries."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
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
HELP_SUMMARY = "show the help of codex-login or of one command"


class Parser(argparse.ArgumentParser):
    """argparse's, adding "did you mean ...?" to a mistyped command."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            import difflib  # noqa: PLC0415  (only for a mistyped command)

            choices = [str(choice) for choice in action.choices or ()]
            close = difflib.get_close_matches(str(value), choices, n=1)
            if not close:
                raise
            raise argparse.ArgumentError(
                action, f"{exc.message}; did you mean {close[0]!r}?"
            ) from exc


class Commands(Mapping[str, argparse.ArgumentParser]):
    """Each command's parser by name, made when first looked up.

    A parser costs about 0.1 ms to make (argparse looks its words up with gettext,
    which searches the disk for catalogues each time); a command needs only its own.
    """

    def __init__(self, makers: dict[str, Callable[[], argparse.ArgumentParser]]) -> None:
        self._makers = makers
        self._made: dict[str, argparse.ArgumentParser] = {}

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        if name not in self._made:
            self._made[name] = self._makers[name]()
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


class LazySubcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """argparse's subcommands, with the parsers of ``Commands`` (made when used): the
    choices stay every name, so usage errors and help read as argparse's own."""

    def use(self, commands: Commands, summaries: dict[str, str]) -> None:
        self._name_parser_map = self.choices = commands  # type: ignore[assignment]
        for name, summary in summaries.items():
            self._choices_actions.append(self._ChoicesPseudoAction(name, (), summary))


def build() -> tuple[argparse.ArgumentParser, Commands]:
    """The top-level parser, and each command's parser by name (for its usage errors)."""
    parser = Parser(
        prog="codex-login", formatter_class=HelpFormatter, description=DESCRIPTION, epilog=EPILOG
    )
    parser.add_argument("--version", action=formatting.Version, help="print the version and exit")
    parser.add_argument("--codex-home", type=Path, metavar="DIR", help=CODEX_HOME_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    # prog: what argparse would lay out a usage line (and measure the terminal) to find.
    # Not required: a bare `codex-login` shows the help, `--bogus` alone says it is unknown.
    subparsers = parser.add_subparsers(
        action=LazySubcommands, dest="command", metavar="COMMAND", prog="codex-login"
    )
    assert isinstance(subparsers, LazySubcommands)  # noqa: S101  (the action= above)
    makers = {name: _command_parser(name) for name in COMMANDS}
    makers["help"] = _help_parser
    commands = Commands(makers)
    summaries = {name: command.summary for name, command in COMMANDS.items()}
    subparsers.use(commands, {**summaries, "help": HELP_SUMMARY})
    return parser, commands


def _common(codex_home: bool) -> argparse.ArgumentParser:
    """The global options after the command too (`codex-login status -v --codex-home DIR`);
    SUPPRESS keeps a value given before the command from being reset by this default.
    A command that reads no login (``NO_CODEX_HOME``) still parses --codex-home, to
    refuse it with its reason, but neither its help nor completion offers it."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument(
        "--codex-home",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help=CODEX_HOME_HELP if codex_home else argparse.SUPPRESS,
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say more"
    )
    return common


def _command_parser(name: str) -> Callable[[], argparse.ArgumentParser]:
    def make() -> argparse.ArgumentParser:
        module = import_module(COMMANDS[name].module)
        parser = Parser(
            prog=f"codex-login {name}",
            parents=[_common(codex_home=not hasattr(module, "NO_CODEX_HOME"))],
            description=module.ABOUT,
            epilog=module.EPILOG,
            formatter_class=HelpFormatter,
        )
        module.configure(parser)
        return parser

    return make


def _help_parser() -> argparse.ArgumentParser:
    help_ = Parser(
        prog="codex-login help",
        description="Show the help of codex-login, or of COMMAND (the same as COMMAND --help).",
        formatter_class=formatting.SizedHelpFormatter,
    )
    help_.add_argument(
        "topic", nargs="?", choices=[*COMMANDS, "help"], metavar="COMMAND", help="a command"
    )
    return help_
