"""``codex-login login``: sign in with ChatGPT (browser or device code) or an API key."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.errors import LoginTimedOut
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import DEFAULT_ISSUER
from codex_login.domain.plans import parse_plan, plan_name
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli import signin
from codex_login.entrypoints.cli.errors import EXIT_OK, UsageError
from codex_login.entrypoints.cli.formatting import port, seconds
from codex_login.entrypoints.cli.output import plan_title, saved_since, say_field
from codex_login.entrypoints.cli.shared import epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.application.signin import LoginOutcome
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

# Ctrl-C lets a commit waiting for another process's lock go on: it holds the issuer's
# new tokens, which given up would be lost without being revoked.
KEEPS_WAITING_ON_CTRL_C = True
ABOUT = """\
Sign in with ChatGPT in a browser: start a callback server on localhost:1455
(1457 when 1455 is taken), print the sign-in URL, open a browser unless
--no-browser, and wait until the issuer redirects back (15 minutes by default;
Ctrl-C cancels). With --no-browser, or when stdin is a terminal, the address
the browser ended on may be pasted on stdin instead (for a browser on another
machine, whose localhost is not this one). --device-auth signs in on another
device with a code instead, for machines without a browser. --with-api-key
stores an OpenAI API key read from stdin, or typed at a hidden prompt when stdin
is a terminal; a key is never taken from the arguments, where other users see
it through ps. --with-access-token stores an access token (at-..., Business and
Enterprise) the same way, once whoami (CODEX_AUTHAPI_BASE_URL) has named its
account, and writes auth.json as the Codex CLI does."""
EPILOG = epilog(
    """\
  codex-login login
  codex-login login --device-auth
  codex-login login --no-browser --port 0
  codex-login login --no-browser    # then paste the address the browser shows
  printenv OPENAI_API_KEY | codex-login login --with-api-key
  printenv CODEX_ACCESS_TOKEN | codex-login login --with-access-token
  ssh -L 1455:localhost:1455 HOST   # then run codex-login login on HOST
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.ISSUER),
    environment_help(settings.NETWORK),
    environment_help(settings.BROWSER),
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    with_api_key: bool = False
    with_access_token: bool = False
    device_auth: bool = False
    no_browser: bool = False
    port: int | None = None
    issuer: str | None = None
    client_id: str | None = None
    timeout: float | None = None
    verbose: bool = False

    def sign_in(self) -> signin.SignIn:
        timeout = self.timeout if self.timeout is not None else signin.LOGIN_TIMEOUT
        return signin.SignIn(self.no_browser, self.port, timeout, self.verbose)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with-api-key",
        action="store_true",
        help="store an OpenAI API key read from stdin (typed at a hidden prompt at a terminal)",
    )
    parser.add_argument(
        "--with-access-token",
        action="store_true",
        help="store an access token (at-...) read from stdin, checked at whoami first "
        "(typed at a hidden prompt at a terminal)",
    )
    parser.add_argument("--api-key", metavar="KEY", help=argparse.SUPPRESS)
    parser.add_argument(
        "--device-auth",
        action="store_true",
        help="sign in on another device with a code (for machines without a browser)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="only print the URL (browser sign-in)"
    )
    parser.add_argument(
        "--port",
        type=port,
        metavar="N",
        help="callback port (default 1455, then 1457; 0 = any; browser sign-in)",
    )
    parser.add_argument("--issuer", metavar="URL", help=f"OAuth issuer (default {DEFAULT_ISSUER})")
    parser.add_argument(
        "--client-id", metavar="ID", help="OAuth client id (required with another --issuer)"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help=f"give up after this long (default {signin.LOGIN_TIMEOUT:g})",
    )


def options(args: argparse.Namespace) -> Options:
    """The options, contradictions refused before anything is set up."""
    if args.api_key is not None:
        raise UsageError(
            "--api-key is refused: keys in arguments leak to other users through ps; "
            f"pipe the key in instead: {signin.PIPE_HINT}"
        )
    chosen = Options(
        with_api_key=args.with_api_key,
        with_access_token=args.with_access_token,
        device_auth=args.device_auth,
        no_browser=args.no_browser,
        port=args.port,
        issuer=args.issuer,
        client_id=args.client_id,
        timeout=args.timeout,
        verbose=args.verbose,
    )
    _refuse_contradictions(chosen)
    return chosen


def _refuse_contradictions(options: Options) -> None:
    browser_only = {"--no-browser": options.no_browser, "--port": options.port is not None}
    if options.with_api_key and options.with_access_token:
        raise UsageError("--with-api-key cannot be combined with --with-access-token: choose one")
    if options.with_api_key or options.with_access_token:
        flag = "--with-api-key" if options.with_api_key else "--with-access-token"
        chatgpt_only = {
            "--device-auth": options.device_auth,
            **browser_only,
            "--issuer": options.issuer is not None,
            "--client-id": options.client_id is not None,
            "--timeout": options.timeout is not None,
        }
        given = [name for name, present in chatgpt_only.items() if present]
        if given:
            raise UsageError(
                f"{flag} cannot be combined with {', '.join(given)}: those options "
                f"are for signing in with ChatGPT; drop them, or drop {flag}"
            )
    elif options.device_auth:
        given = [name for name, present in browser_only.items() if present]
        if given:
            raise UsageError(
                f"--device-auth cannot be combined with {', '.join(given)}: those options "
                "are for the browser sign-in; drop them, or drop --device-auth"
            )


def login_words(options: Options) -> str:
    """The login command to run again: the way the user signed in."""
    return "codex-login login --device-auth" if options.device_auth else "codex-login login"


def run(options: Options, io: IO, factory: Factory) -> int:
    service = factory.service(issuer=options.issuer, client_id=options.client_id)
    if factory.store_notice:  # which store `auto` chose
        io.say(factory.store_notice)
    service.check_writable()  # before a key is typed or anyone signs in
    outcome, parked, who = None, None, None
    if options.with_api_key:
        parked = service.login_with_api_key(signin.read_key(io))
    elif options.with_access_token:
        done = service.login_with_access_token(signin.read_key(io, signin.ACCESS_TOKEN_INPUT))
        who, parked = done.who, done.parked
    else:
        before = service.store.fingerprint()
        try:
            flow = signin.with_device_code if options.device_auth else signin.in_browser
            outcome = flow(service, options.sign_in(), io, factory.settings)
        except (KeyboardInterrupt, LoginTimedOut):
            # Stopped after the issuer answered: if the login was stored, it is done.
            if not saved_since(service, before):
                raise
            io.say("The sign-in had been saved when the login was stopped; you are logged in.")
    io.say("Successfully logged in")
    if service.options.uses_workload_identity:  # it wins over any stored login
        io.say(
            "  note: OPENAI_FEDERATION_RULE_ID is set, so status and token use the workload "
            "identity, not this login, until it and the identity token's variables are unset"
        )
    if outcome is not None:
        _say_who(io, outcome)
        parked = outcome.parked
    if who is not None:
        plan = plan_title(plan_name(parse_plan(who.plan)))
        io.say(printable(f"Logged in as {who.email or who.account_id} (ChatGPT {plan})"))
    if parked is not None:
        io.say(
            f"The previous login is kept as account {parked}; "
            f"`codex-login switch {parked}` goes back"
        )
    if options.verbose:
        say_field(io, "credentials", service.store.location)
        if outcome is not None:
            say_field(io, "API key stored", outcome.api_key_stored)
    return EXIT_OK


def _say_who(io: IO, outcome: LoginOutcome) -> None:
    """``Logged in as alice@example.com (ChatGPT Pro)``: the account, by email or else id."""
    claims = outcome.id_token
    who = claims.email or claims.account_id
    if who:
        plan = f"ChatGPT {plan_title(plan_name(claims.plan))}" if claims.plan else "ChatGPT"
        io.say(printable(f"Logged in as {who} ({plan})"))
