"""``codex-login switch``: make another stored login the active one."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.shared import ACCOUNT_NAME, epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
Make another stored login the active one, named by its account name, email or
workspace id. Under the lock, the active login goes back to its slot first, with
its latest (possibly rotated) tokens, then the chosen one becomes auth.json: the
Codex CLI uses it from its next request. Nothing is sent to the issuer."""
EPILOG = epilog(
    """\
  codex-login switch work
  codex-login switch alice@example.com
""",
    environment_help(settings.STORE, settings.POLICY),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    target: str


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", metavar=f"{ACCOUNT_NAME}|EMAIL|WORKSPACE", help="the login to activate"
    )


def options(args: argparse.Namespace) -> Options:
    return Options(target=args.target)


def run(options: Options, io: IO, factory: Factory) -> int:
    service = factory.service()
    # A malformed active record is replaced by the switch: listed as no login here.
    before = next((a for a in service.accounts(strict=False) if a.active), None)
    chosen = service.switch(options.target)
    if before is not None and before.name == chosen.name:
        io.say(printable(f"{chosen.name} is already the active account"))
        return EXIT_OK
    who = f" ({chosen.email})" if chosen.email else ""
    io.say(printable(f"Switched to {chosen.name}{who}"))
    if before is not None:
        io.say(
            printable(f"  {before.name} is kept; `codex-login switch {before.name}` brings it back")
        )
    return EXIT_OK
