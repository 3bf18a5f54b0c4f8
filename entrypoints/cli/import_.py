"""``codex-login import``: store a login read from stdin (auth.json format)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.errors import MalformedCredentials
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK, UsageError
from codex_login.entrypoints.cli.shared import HAND_OVER, epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

MAX_IMPORT_BYTES = 1 << 20
ON_STDIN = "the login on stdin"
# Its input is what is wrong, not a stored login: the CLI's usual "or log in" misleads.
REMEDIES = {MalformedCredentials: "pipe in an auth.json as `codex-login export` writes it"}
ABOUT = """\
Store a login read from stdin (auth.json format, as export writes it), checked
like a file read, under the target store's lock. A login of another account
stored here is kept as an inactive account, as login keeps it; another copy of
the same account is kept unless --force."""
EPILOG = epilog(
    """\
  codex-login export | CODEX_LOGIN_STORE=redis codex-login import \\
      && codex-login logout --local
  codex-login import --force < auth.json
""",
    environment_help(settings.STORE, settings.POLICY),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    force: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace another copy of the same account stored here"
    )


def options(args: argparse.Namespace) -> Options:
    return Options(force=args.force)


def run(options: Options, io: IO, factory: Factory) -> int:
    from codex_login.adapters import auth_json  # noqa: PLC0415
    from codex_login.application.transfer import import_login  # noqa: PLC0415

    service = factory.service()
    data = None if io.stdin_is_terminal() else io.read_stdin(MAX_IMPORT_BYTES + 1)
    if data is None:
        raise UsageError(
            f"import reads a login from stdin, not a terminal; pipe one in: {HAND_OVER}"
        )
    if len(data) > MAX_IMPORT_BYTES:  # bad input, not a bad command line: exit 1
        raise MalformedCredentials(ON_STDIN, "it holds more than 1 MiB, so it is not a login")
    loaded = auth_json.decode(data, ON_STDIN)
    for warning in loaded.warnings:
        io.say(printable(f"Warning: {warning}"))
    done = import_login(
        store=service.store, record=loaded.record, replace=options.force, book=service.book
    )
    where = service.store.location
    if not done.changed:
        io.say(f"{where} already holds this login; nothing changed")
        return EXIT_OK
    io.say(f"Imported the login into {where}")
    if done.parked is not None:
        io.say(
            f"The previous login is kept as account {done.parked}; "
            f"`codex-login switch {done.parked}` goes back"
        )
    return EXIT_OK
