"""``codex-login accounts``: the stored logins, the active one marked."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import DEFAULT_ISSUER
from codex_login.domain.modes import AuthMode
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_FAILURE, EXIT_OK
from codex_login.entrypoints.cli.output import plan_title
from codex_login.entrypoints.cli.shared import epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.domain.accounts import Account
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
List the stored logins: the active one (in auth.json, what the Codex CLI uses)
and the others kept beside it. A new login of another account keeps the
previous one here instead of discarding it; `codex-login switch NAME` brings it
back. Each line shows the name to use with `switch` and `--account`, the kind of
login in the Codex CLI's words, and what tells it apart: the email, plan,
workspace id and issuer of a ChatGPT login, the masked key of an API key or the
masked token of an access token (whoami, which knows its email, is not asked);
`*` marks the active one. --names prints only the names, one per line."""
EPILOG = epilog(
    """\
  codex-login accounts
  codex-login accounts --json | jq -r '.accounts[] | select(.active) | .name'
  codex-login accounts --names | xargs -n 1 codex-login token --account
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.BROKER),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    names: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    shown.add_argument(
        "--names",
        action="store_true",
        help="print only their names, one per line (for scripts and shell completion)",
    )


def options(args: argparse.Namespace) -> Options:
    return Options(json=args.json, names=args.names)


def run(options: Options, io: IO, factory: Factory) -> int:
    address = factory.broker_address()
    if address:
        # A sandbox sees one token, not the logins: saying "none" would be false.
        said = f"Accounts are managed on the broker's host ({address})"
        io.say(printable(f"{said}; run `codex-login accounts` there"))
        if options.json:
            from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only)

            action = "run `codex-login accounts` on the broker's host"
            io.emit(documents.dumps(documents.error_document("brokered", said, action)))
        return EXIT_FAILURE
    if options.names:
        for name in factory.service().account_names():
            io.emit(printable(name))
        return EXIT_OK
    accounts = factory.service().accounts()
    if options.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        listed = [documents.AccountDocument.of(account) for account in accounts]
        io.emit(documents.dumps(documents.AccountsDocument(listed)))
        return EXIT_OK
    if not accounts:
        io.say("Not logged in")
        return EXIT_OK
    for account in accounts:
        io.emit(printable(account_line(account)))
    return EXIT_OK


def account_line(account: Account) -> str:
    """``* alice  alice@example.com  ChatGPT Pro  ws-123  https://auth.openai.com``,
    ``  api-key  API key sk-proj-***a1b2c`` or ``  access-token  personal access token
    at-a1b2c***d3e4f``: enough to tell two logins apart."""
    what = account.kind
    if account.mode == AuthMode.API_KEY.value:
        what = f"{what} {account.masked_api_key}"
    elif account.masked_access_token is not None:  # what is known without asking whoami
        what = f"{what} {account.masked_access_token}"
    elif account.mode == AuthMode.CHATGPT.value and account.plan:
        what = f"{what} {plan_title(account.plan)}"
    fields = [account.name, account.email, what, account.workspace]
    if account.issuer not in (None, DEFAULT_ISSUER):
        fields.append(account.issuer)
    marker = "*" if account.active else " "
    return f"{marker} " + "  ".join(field for field in fields if field)
