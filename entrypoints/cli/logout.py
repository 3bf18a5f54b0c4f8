"""``codex-login logout``: revoke at the issuer, then delete the stored credentials."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.masking import scrub
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.output import say_kept_accounts, stored_secrets
from codex_login.entrypoints.cli.shared import account_option, epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
Revoke the refresh token at the issuer that issued it (best effort, 10 s), then
delete the stored credentials. --local skips revoking: revoking signs out every
machine that shares the login. Exit status 0 both when a login was removed and
when none was stored."""
EPILOG = epilog(
    """\
  codex-login logout
  codex-login logout --local
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.NETWORK),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    local: bool = False
    account: str | None = None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        help="only delete here; don't revoke (revoking signs out every machine sharing the login)",
    )
    account_option(parser)


def options(args: argparse.Namespace) -> Options:
    return Options(local=args.local, account=args.account)


def run(options: Options, io: IO, factory: Factory) -> int:
    import asyncio  # noqa: PLC0415

    service = factory.service(account=options.account)
    secrets = stored_secrets(service)  # now: the logout deletes the record
    result = asyncio.run(service.logout(revoke=not options.local))
    if result.revoke_error:
        warning = f"Warning: could not revoke the login at the issuer: {result.revoke_error}"
        io.say(printable(scrub(warning, secrets)))
    io.say("Successfully logged out" if result.removed else "Not logged in")
    if options.account is None:  # the active login went (or was not there)
        say_kept_accounts(io, service)
    if result.unreadable and result.removed and not options.local:
        io.say(
            printable(
                f"  nothing was revoked at the issuer: {service.store.location} could not be "
                f"read ({result.unreadable}), so a login it held stays valid until it expires"
            )
        )
    return EXIT_OK
