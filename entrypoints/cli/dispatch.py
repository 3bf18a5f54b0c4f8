"""The ``codex-login`` command: translates arguments and errors, decides nothing.

Messages go to stderr, data (tokens, JSON, help, the version) to stdout. Every message
says what happened, then what to do: the error says what happened, and the CLI adds
its own command (``remedies.with_remedy``). Exit codes: 0 success, 1 failure, 2 usage
error, 4 ``token`` and ``refresh`` only: a person must log in (a ``SignInRequired``:
nothing is stored, the session ended, the stored login is unusable or refused by the
policy), so a script can stop retrying (``domain/outcomes.py``), 130 interrupted, 141
stdout closed early. ``status`` keeps the Codex CLI's codes (0 logged in, 1 not logged
in or unreadable). Messages that may quote the issuer or a stored field pass through
``scrub`` first, and ``printable`` escapes their control characters (newlines included)
so that the issuer, a token or the store cannot drive the terminal or forge a line;
``IO.say`` and ``IO.emit`` escape every control character but our own line breaks.

A command is a module of this package (``table.COMMANDS``): its ``Options`` value, built
by ``options(args)``, its parser set-up ``configure(parser)`` with its help, and
``run(options, io, factory) -> int``. A command whose module has ``ALONE`` (the options
of the command given with no argument: ``codex-login token``) runs with them when given
alone, without loading argparse: parsing cost 3-5 ms of the 80 or so a script waits
for ``token`` (tests check that ``ALONE`` is what the parser would give).
"""

from __future__ import annotations

import contextlib
import sys
from importlib import import_module
from typing import TYPE_CHECKING

from codex_login.adapters.process_memory import keep_memory_private
from codex_login.domain.errors import CodexLoginError
from codex_login.domain.printable import printable
from codex_login.entrypoints.cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    StdoutClosed,
    StdoutUnwritable,
    UsageError,
    causes,
)
from codex_login.entrypoints.cli.interrupts import say_interrupted, stop_workers
from codex_login.entrypoints.cli.io import IO
from codex_login.entrypoints.cli.table import COMMANDS
from codex_login.entrypoints.cli.wiring import Factory
from codex_login.entrypoints.remedies import of_account, with_remedy
from codex_login.entrypoints.settings import Settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import ModuleType

    from codex_login.entrypoints.cli import parser as parsing


def main(argv: Sequence[str] | None = None, io: IO | None = None) -> int:
    """Run one command line; argparse's own output goes to ``io`` too, and it ends
    --help, --version and a usage error with SystemExit, as argparse does."""
    io = io or IO()
    with contextlib.redirect_stdout(io.stdout), contextlib.redirect_stderr(io.stderr):
        return _main(argv, io)


def _main(argv: Sequence[str] | None, io: IO) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if _alone(words):  # `codex-login token`: nothing to parse
        return _run(words[0], io, None)
    # argparse only when there is something to parse (see the module's docstring)
    from codex_login.entrypoints.cli import parser as parsing  # noqa: PLC0415

    parser, commands = parsing.build()
    args, unknown = parser.parse_known_args(words)
    if args.command is None:
        if unknown:  # `codex-login --bogus`: what is wrong, not that a command is missing
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        parser.print_help(io.stderr)  # a bare `codex-login`: what it can do, as a usage error
        return EXIT_USAGE
    if unknown:  # said by the command they were given to, with its usage
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.verbose:
        _log_verbosely()
    if args.command == "help":
        return _help(parser, commands, args.topic, io)
    return _run(args.command, io, args, commands)


def _alone(words: list[str]) -> bool:
    """A command given alone that has options for it (``ALONE``)."""
    if len(words) != 1 or words[0] not in COMMANDS:
        return False
    return hasattr(import_module(COMMANDS[words[0]].module), "ALONE")


def _run(
    name: str,
    io: IO,
    args: argparse.Namespace | None,
    commands: parsing.Commands | None = None,
) -> int:
    """Run the command ``name`` with ``args`` parsed by ``commands`` (None: given
    alone, with its ``ALONE``), and turn what it raises into a line and a code."""
    command = import_module(COMMANDS[name].module)
    verbose = args is not None and args.verbose
    codex_home = args.codex_home if args is not None else None
    factory = Factory(Settings.from_environ(), codex_home, io)  # the environment, once
    options = None
    try:
        # Contradictions are refused before anything is set up.
        options = command.ALONE if args is None else _options(command, args)
        keep_memory_private(factory.settings.dumpable)  # before any credential is read
        return int(command.run(options, io, factory))
    except UsageError as exc:
        # The command's usage, as argparse says its own errors.
        (commands if commands is not None else _commands())[name].error(str(exc))
    except StdoutClosed:
        return io.stdout_closed()
    except StdoutUnwritable as exc:
        return io.stdout_unwritable(exc)
    except KeyboardInterrupt as exc:
        if not getattr(command, "KEEPS_WAITING_ON_CTRL_C", False):
            stop_workers()
        say_interrupted(exc, io)
        return EXIT_INTERRUPTED
    except CodexLoginError as exc:
        return _failed(exc, command, options, verbose, factory)
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if verbose:
            raise
        # Its message could hold anything, secrets included: -v shows it to those who ask.
        said = f"unexpected {type(exc).__name__}, a bug in codex-login (-v shows details)"
        io.say(f"Error: {said}")
        if getattr(options, "json", False):
            _emit_bug(io, said)
        return EXIT_FAILURE
    finally:
        factory.close()


def _options(command: ModuleType, args: argparse.Namespace) -> object:
    """The command's options from ``args``. A command that reads no login declares why
    (``NO_CODEX_HOME``) and refuses --codex-home rather than ignore it."""
    why = getattr(command, "NO_CODEX_HOME", None)
    if why is not None and args.codex_home is not None:
        raise UsageError(f"--codex-home is not for this command: {why}; leave it out")
    return command.options(args)


def _commands() -> parsing.Commands:
    """The commands' parsers, for a usage error of a command given alone."""
    from codex_login.entrypoints.cli import parser as parsing  # noqa: PLC0415  (errors only)

    return parsing.build()[1]


def _failed(
    exc: CodexLoginError, command: ModuleType, options: object, verbose: bool, factory: Factory
) -> int:
    """Say what failed and what to run about it; the exit code the command's kind has."""
    from codex_login.domain.outcomes import outcome_of  # noqa: PLC0415  (only on failure)
    from codex_login.entrypoints.cli.output import emit_error, say_scrubbed  # noqa: PLC0415

    exc = of_account(exc, getattr(options, "account", None))
    # The login command to run again: `login` says the way the user signed in.
    words = getattr(command, "login_words", None)
    login = words(options) if words is not None else "codex-login login"
    # A broker's answer already says what to run, on the host.
    # A command may say what to do in its own words (`import`: its input, not a login).
    own = getattr(command, "REMEDIES", None)
    said = with_remedy(exc, login=login, brokered=factory.brokered, own=own)
    say_scrubbed(factory.io, f"Error: {said}", factory.built)
    if getattr(options, "json", False):  # scripts read the kind and the remedy on stdout too
        emit_error(factory.io, exc, factory.built, login=login, brokered=factory.brokered, own=own)
    if verbose:
        for cause in causes(exc):
            say_scrubbed(factory.io, f"  caused by {type(cause).__name__}: {cause}", factory.built)
    # Only what scripts call (`token`, `refresh`) tells "sign in" (4) from "try again" (1)
    # apart: `status` keeps the Codex CLI's codes, the others 1 for any failure.
    by_outcome = getattr(command, "EXIT_BY_OUTCOME", False)
    return outcome_of(exc).exit_code if by_outcome else EXIT_FAILURE


def _emit_bug(io: IO, said: str) -> None:
    from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: cattrs)

    with contextlib.suppress(StdoutClosed, StdoutUnwritable):
        io.emit(documents.dumps(documents.error_document("internal_error", said, None)))


def _log_verbosely() -> None:
    """-v: our modules' log lines on stderr, their control characters escaped."""
    import logging  # noqa: PLC0415  (only when asked: it costs start-up time)

    class Printable(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return printable(super().format(record), keep_newlines=True)

    handler = logging.StreamHandler()
    handler.setFormatter(Printable("%(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("codex_login").setLevel(logging.DEBUG)


def _help(
    parser: argparse.ArgumentParser,
    commands: parsing.Commands,
    topic: str | None,
    io: IO,
) -> int:
    """``codex-login help [COMMAND]``: the same text as ``--help``, on stdout."""
    try:
        (commands[topic] if topic else parser).print_help(io.stdout)
        io.stdout.flush()
    except BrokenPipeError:
        return io.stdout_closed()
    return EXIT_OK
