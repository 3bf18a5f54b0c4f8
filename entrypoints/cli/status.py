"""``codex-login status``: how you are logged in, without touching the network (except
to exchange a workload identity, which has nothing stored to describe)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from codex_login.adapters.clock import SystemClock
from codex_login.domain.access_tokens import kind_of
from codex_login.domain.choice import looked_for
from codex_login.domain.errors import CodexLoginError, NotLoggedIn, PolicyViolation
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import DEFAULT_ISSUER
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import KINDS, AuthMode
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_FAILURE, EXIT_OK
from codex_login.entrypoints.cli.output import (
    emit_error,
    expiry_in_words,
    iso,
    plan_title,
    say_field,
    say_kept_accounts,
    say_scrubbed,
)
from codex_login.entrypoints.cli.shared import account_option, epilog
from codex_login.entrypoints.remedies import of_account, with_remedy
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    import argparse

    from codex_login.application.status import Status
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

# `codex login status` of an API key (Codex 0.171), then the masked key. Codex's second
# line ("Authentication is checked when you send a request.") is left out: the indented
# details follow the first line for every kind of login.
API_KEY_LINE = "API key configured - "

ABOUT = """\
Show how you are logged in, without touching the network (but to exchange a
workload identity, which stores nothing, or to ask whoami for an access token's
account). The first line is the Codex CLI's: "Logged in using ChatGPT", "API key
configured - sk-...", "Logged in using personal access token", "Logged in using
workload identity", or "Not logged in". The indented lines below it
name the account, plan and workspace, where the login is stored and when the
access token expires; -v adds the last refresh, the client id and whether a
refresh is due (when not logged in: where it looked, in order). --json prints
the details as JSON on stdout, in place of the indented lines unless -v is
given."""
EPILOG = epilog(
    """\
  codex-login status
  codex-login status -v --codex-home /srv/codex
  codex-login status --json | jq -r .email
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.API_KEY),
    environment_help(settings.BROKER),
    exit_status="  0 logged in; 1 not logged in, or the stored login cannot be read or used\n",
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    verbose: bool = False
    account: str | None = None


# `codex-login status` given alone: the dispatch runs it with these, without argparse.
ALONE = Options()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print details as JSON on stdout")
    account_option(parser)


def options(args: argparse.Namespace) -> Options:
    return Options(json=args.json, verbose=args.verbose, account=args.account)


def run(options: Options, io: IO, factory: Factory) -> int:
    address = factory.broker_address()
    if address:
        return _from_broker(options, io, factory, address)
    service = factory.service(account=options.account)
    try:
        status = service.status()
    except PolicyViolation as exc:
        # As the Codex CLI: a login the policy forbids counts as none (the file is kept).
        if options.json:
            _emit_not_logged_in(io, str(exc))
        io.say("Not logged in")
        say_scrubbed(io, f"  {with_remedy(exc)}", service)
        return EXIT_FAILURE
    except CodexLoginError as raised:
        failure = of_account(raised, options.account)
        say_scrubbed(io, f"Error checking login status: {with_remedy(failure)}", service)
        if options.json:
            emit_error(io, failure, service)
        return EXIT_FAILURE
    if status is not None:
        for warning in status.warnings:
            say_scrubbed(io, f"Warning: {warning}", service)
    if options.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        document = (
            documents.NotLoggedInDocument()
            if status is None
            else documents.StatusDocument.of(status)
        )
        io.emit(documents.dumps(document))
    if status is None:
        io.say("Not logged in")  # the Codex CLI's line, alone: scripts match on it
        if options.verbose:
            say_scrubbed(io, f"  {looked_for(service.store.location)}", service)
            say_kept_accounts(io, service)
        return EXIT_FAILURE
    io.say(printable(_logged_in_line(status)))
    if options.verbose or not options.json:  # --json alone: the details are on stdout
        _say_details(io, status, now=service.clock.now(), verbose=options.verbose)
    _say_notes(io, status)
    return EXIT_OK


def _say_notes(io: IO, status: Status) -> None:
    if status.foreign:
        io.say(
            "  note: this login was written by another tool (the Codex CLI); codex-login "
            "keeps it as it is but has no token to hand out for it"
        )
    if status.overridden_by:
        io.say(
            f"  note: the {status.overridden_by} is set; `token` and programs send it "
            "instead of this login"
        )


def _emit_not_logged_in(io: IO, refused: str) -> None:
    from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

    io.emit(documents.dumps(documents.NotLoggedInDocument(refused=refused)))


def _from_broker(options: Options, io: IO, factory: Factory, address: str) -> int:
    """In a sandbox: the login the broker hands tokens out for, from its token answer."""
    try:
        current = factory.token_from_broker(address)
    except NotLoggedIn as exc:
        if options.json:
            _emit_not_logged_in(io, str(exc))
        io.say("Not logged in")
        io.say(printable(f"  via the broker at {address}: {exc}"))
        return EXIT_FAILURE
    if options.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        io.emit(documents.dumps(documents.BrokeredStatusDocument.of(current, address)))
    if current.mode is AuthMode.API_KEY:
        io.say(printable(f"{API_KEY_LINE}{mask_api_key(current.token)}"))
    else:
        io.say(f"Logged in using {kind_of(current)}")
    io.say(printable(f"  via the broker at {address}"))
    say_field(io, "account id", current.account_id)
    say_field(io, "access token", expiry_in_words(current.expires_at, SystemClock().now()))
    return EXIT_OK


def _logged_in_line(status: Status) -> str:
    """The Codex CLI's first line, word for word: scripts match on it."""
    if status.kind == KINDS[AuthMode.API_KEY]:
        return f"{API_KEY_LINE}{status.masked_api_key}"
    return f"Logged in using {status.kind}"


def _say_details(io: IO, status: Status, *, now: datetime, verbose: bool) -> None:
    """Who is logged in, where it is stored and how long the access token lasts."""
    if status.mode is AuthMode.API_KEY:
        say_field(io, "credentials", status.source)
        return
    say_field(io, "email", status.email)
    say_field(io, "plan", plan_title(status.plan) if status.plan else None)
    say_field(io, "account id", status.account_id)
    if verbose or status.issuer not in (None, DEFAULT_ISSUER):
        say_field(io, "issuer", status.issuer)
    say_field(io, "credentials", status.source)
    expiry = expiry_in_words(status.access_token_expires_at, now)
    if expiry is not None:
        due = status.refresh_due or expiry.startswith("expired")
        say_field(io, "access token", f"{expiry}; refreshed on next use" if due else expiry)
    if verbose:
        say_field(io, "access token expires at", iso(status.access_token_expires_at))
        say_field(io, "last refresh", iso(status.last_refresh))
        say_field(io, "refresh due", status.refresh_due)
        say_field(io, "client id", status.client_id)
        say_field(io, "stored API key", status.masked_api_key)
