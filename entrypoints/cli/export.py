"""``codex-login export``: the stored login on stdout (auth.json format), to move it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK, UsageError
from codex_login.entrypoints.cli.shared import HAND_OVER, epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.domain.record import CredentialRecord
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
Write the stored login to stdout in auth.json format, under the store's lock, to
move it to another store or machine. A terminal is refused unless --force: the
output is a live credential. Two live copies of one single-use refresh token end
each other's session: end the pipeline with `&& codex-login logout --local`,
which removes the login here once the import has stored it, and only then.
Stop what uses the login here first: a refresh in between would leave the copy a
spent refresh token. --move removes it as soon as it is written, before the
reader has stored it (a failed import would lose it): keep --move for a file."""
EPILOG = epilog(
    """\
  codex-login export | CODEX_LOGIN_STORE=redis codex-login import \\
      && codex-login logout --local
  codex-login export | ssh HOST codex-login import && codex-login logout --local
  codex-login export --move > login.json
""",
    environment_help(settings.STORE, settings.POLICY),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    move: bool = False
    force: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--move",
        action="store_true",
        help="remove it here once written, before the reader stored it (for a file)",
    )
    parser.add_argument("--force", action="store_true", help="write to a terminal too")


def options(args: argparse.Namespace) -> Options:
    return Options(move=args.move, force=args.force)


def run(options: Options, io: IO, factory: Factory) -> int:
    from codex_login.adapters import auth_json  # noqa: PLC0415
    from codex_login.application.transfer import export_login  # noqa: PLC0415

    service = factory.service()
    if io.stdout_is_terminal() and not options.force:
        raise UsageError(
            "export refuses to write a live credential to a terminal; pipe it into import "
            f"({HAND_OVER}), or pass --force to print it here"
        )

    def hand_over(record: CredentialRecord) -> None:
        io.emit_bytes(auth_json.encode(record))  # a closed pipe: nobody took it, it stays

    export_login(store=service.store, hand_over=hand_over, move=options.move)
    if options.move:
        io.say(f"Exported and removed the login from {service.store.location}")
    else:
        io.say(
            "Exported a live credential. The login stays here too: the first copy to refresh "
            "ends the other's session (use --move to hand it over)"
        )
    return EXIT_OK
