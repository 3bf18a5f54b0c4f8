"""``codex-login refresh``: refresh the ChatGPT tokens now, due or not (``gh auth refresh``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.access_tokens import is_access_token
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.shared import REFRESHING_REMEDIES, account_option, epilog
from codex_login.entrypoints.cli.token import EXIT_STATUS, print_token, refreshing
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

EXIT_BY_OUTCOME = True  # as `token`: 4 a person must log in, 1 anything a retry may cure
REMEDIES = REFRESHING_REMEDIES

ABOUT = """\
Refresh the ChatGPT tokens of the stored login now, whether due or not, and
store the new ones (as `gh auth refresh` does): after a plan or workspace
change, or to check that the session still works. Tokens younger than the
refresh policy's minimum age for a forced refresh (5 seconds) are kept as they
are, so that a loop of refreshes costs the issuer one; an API key cannot be
refreshed and is kept too. Nothing is printed on stdout unless --print-token or
--json."""
EPILOG = epilog(
    """\
  codex-login refresh
  codex-login refresh --json | jq -r .expires_at
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.API_KEY),
    environment_help(settings.ISSUER),
    environment_help(settings.NETWORK),
    exit_status=EXIT_STATUS.replace("  0 printed;", "  0 refreshed (or kept, see above);\n "),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    print_token: bool = False
    account: str | None = None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--print-token", action="store_true", help="print the access token, as `token` does"
    )
    parser.add_argument("--json", action="store_true", help="print it with its mode and expiry")
    account_option(parser)


def options(args: argparse.Namespace) -> Options:
    return Options(json=args.json, print_token=args.print_token, account=args.account)


def run(options: Options, io: IO, factory: Factory) -> int:
    service = factory.service(account=options.account)
    before = service.store.fingerprint()
    current = refreshing(service, service.refresh, io.say)
    if service.store.fingerprint() != before:
        io.say("Refreshed the access token")
    elif current.mode is AuthMode.API_KEY:
        io.say("Nothing to refresh: the login is an API key")
    elif is_access_token(current.token):
        io.say("Nothing to refresh: the login is an access token, which is never refreshed")
    else:
        io.say(
            "Kept the access token as it is: it is younger than the minimum age for a "
            "forced refresh (a few seconds); run the command again later"
        )
    if options.json or options.print_token:
        print_token(io, current, service.model_api_of(current), json=options.json)
    return EXIT_OK
