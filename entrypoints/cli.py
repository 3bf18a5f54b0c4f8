"""The ``codex-login`` command: translates arguments and errors, decides nothing.

Messages go to stderr, data (tokens, JSON, help, the version) to stdout. Every message
says what happened, then what to do: the error says what happened, and the CLI adds
its own command (``remedies.with_remedy``). Exit codes: 0 success, 1 failure, 2 usage
error, 4 ``token`` only: a person must log in (a ``SignInRequired``: nothing is stored,
the session ended, the stored login is unusable or refused by the policy), so a script
can stop retrying (``domain/outcomes.py``), 130 interrupted, 141 stdout closed early.
``status`` keeps the Codex CLI's codes (0 logged in, 1 not logged in or unreadable).
Messages that may quote the issuer or a stored field pass through ``scrub`` first, and
``printable`` escapes their control characters (newlines included) so that the issuer,
a token or the store cannot drive the terminal or forge a line; ``_say`` and ``_emit``
escape every control character but our own line breaks, whatever reaches them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_login.adapters.clock import SystemClock
from codex_login.adapters.process_memory import keep_memory_private
from codex_login.application.service import AuthService
from codex_login.domain.choice import looked_for
from codex_login.domain.errors import (
    CodexLoginError,
    LoginTimedOut,
    NotLoggedIn,
    PolicyViolation,
)
from codex_login.domain.issuer import DEFAULT_ISSUER
from codex_login.domain.masking import mask_api_key, scrub
from codex_login.domain.modes import AuthMode
from codex_login.domain.plans import plan_name
from codex_login.domain.printable import printable
from codex_login.domain.timestamps import format_timestamp
from codex_login.entrypoints import settings
from codex_login.entrypoints.bootstrap import (
    bootstrap,
    broker_address,
    broker_client,
    codex_home_from,
)
from codex_login.entrypoints.remedies import with_remedy
from codex_login.entrypoints.settings import Settings, environment_help

if TYPE_CHECKING:
    from codex_login.application.signin import LoginOutcome
    from codex_login.application.status import Status
    from codex_login.domain.accounts import Account
    from codex_login.domain.device import DeviceCode
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.tokens import AccessToken

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# A reader that stops early (`codex-login status --json | head -1`) is no failure of ours:
# end quietly with the status a shell shows for a tool killed by SIGPIPE, as git and the
# coreutils do (128 + 13, like 130 = 128 + SIGINT), so `set -o pipefail` still sees it.
EXIT_STDOUT_CLOSED = 141
MAX_KEY_BYTES = 64 * 1024
MAX_IMPORT_BYTES = 1 << 20
LOGIN_TIMEOUT = 15 * 60.0
PIPE_HINT = "printenv OPENAI_API_KEY | codex-login login --with-api-key"
KEY_PROMPT = "Paste your OpenAI API key (input is hidden): "


class UsageError(Exception):
    """Bad command-line input: exit 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, and the one line that says what it left behind (instead of "Cancelled.")."""


class StdoutClosed(Exception):
    """Whoever read stdout has gone (``| head``): end quietly, exit 141."""


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command they were given to, with its usage
        commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.verbose:
        _log_verbosely()
    if args.command == "help":
        return _help(parser, commands, args.topic)
    service = None
    args.settings = Settings.from_environ()  # the environment, read once
    try:
        if getattr(args, "check", None) is not None:
            args.check(args)  # contradictory options: refused before anything is set up
        keep_memory_private(args.settings.dumpable)  # before any credential is read
        service = _service_for(args)
        return int(args.run(service, args))
    except UsageError as exc:
        # The usage of the command it concerns, as argparse's own errors show.
        commands.get(args.command, parser).error(str(exc))
    except StdoutClosed:
        return _stdout_closed()
    except KeyboardInterrupt as exc:
        say_interrupted(exc)
        return EXIT_INTERRUPTED
    except CodexLoginError as exc:
        # A broker's answer already says what to run, on the host.
        said = with_remedy(exc, login=_login_words(args), brokered=_brokered(args))
        _say_scrubbed(f"Error: {said}", service)
        if args.verbose:
            for cause in _causes(exc):
                _say_scrubbed(f"  caused by {type(cause).__name__}: {cause}", service)
        from codex_login.domain.outcomes import outcome_of  # noqa: PLC0415  (only on failure)

        # Only `token`, what scripts call, tells "sign in" (4) from "try again" (1) apart:
        # `status` keeps the Codex CLI's codes, the others 1 for any failure.
        return outcome_of(exc).exit_code if args.command == "token" else EXIT_FAILURE
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if args.verbose:
            raise
        # Its message could hold anything, secrets included: -v shows it to those who ask.
        _say(f"Error: unexpected {type(exc).__name__}, a bug in codex-login (-v shows details)")
        return EXIT_FAILURE


def say_interrupted(exc: BaseException | None) -> None:
    """The one line for Ctrl-C: what it left behind, or "Cancelled."."""
    _say(str(exc) if isinstance(exc, Interrupted) else "Cancelled.")


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
    commands: dict[str, argparse.ArgumentParser],
    topic: str | None,
) -> int:
    """``codex-login help [COMMAND]``: the same text as ``--help``, on stdout."""
    try:
        (commands[topic] if topic else parser).print_help()
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    return EXIT_OK


def _causes(error: BaseException) -> list[BaseException]:
    """The chain of underlying errors, for -v only (never a reason to act differently)."""
    chain: list[BaseException] = []
    cause = error.__cause__
    while cause is not None and cause not in chain and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__
    return chain


def _stdout_closed() -> int:
    """End quietly when whoever reads stdout has gone away."""
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that flush from
    # failing too and printing "Exception ignored ... BrokenPipeError".
    try:
        stdout = sys.stdout.fileno()
    except (AttributeError, OSError):  # not a real file (embedded, captured): nothing to flush
        return EXIT_STDOUT_CLOSED
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stdout)
    os.close(devnull)
    return EXIT_STDOUT_CLOSED


# -- help texts: each command's --help has a description, examples and its environment ---

CODEX_HOME_HELP = "credential directory (default: $CODEX_HOME or ~/.codex)"
# Generated from the declarations in entrypoints/settings.py.
# Every command that opens a store reads the login policy files too (bootstrap does).
_STORE_ENV = environment_help(settings.STORE, settings.POLICY)
_API_KEY_ENV = environment_help(settings.API_KEY)
_ISSUER_ENV = environment_help(settings.ISSUER)
_NETWORK_ENV = environment_help(settings.NETWORK)
_BROKER_ENV = environment_help(settings.BROKER)


def _epilog(examples: str, *environment: str, exit_status: str = "") -> str:
    """The end of a command's --help: examples, then the environment it reads."""
    text = f"examples:\n{examples}\nenvironment:\n{''.join(environment)}"
    return f"{text}\nexit status:\n{exit_status}" if exit_status else text


LOGIN_ABOUT = """\
Sign in with ChatGPT in a browser: start a callback server on localhost:1455
(1457 when 1455 is taken), print the sign-in URL, open a browser unless
--no-browser, and wait until the issuer redirects back (15 minutes by default;
Ctrl-C cancels). With --no-browser, or when stdin is a terminal, the address
the browser ended on may be pasted on stdin instead (for a browser on another
machine, whose localhost is not this one). --device-auth signs in on another
device with a code instead, for machines without a browser. --with-api-key
stores an OpenAI API key read from stdin, or typed at a hidden prompt when stdin
is a terminal; a key is never taken from the arguments, where other users see
it through ps."""
LOGIN_EPILOG = _epilog(
    """\
  codex-login login
  codex-login login --device-auth
  codex-login login --no-browser --port 0
  codex-login login --no-browser    # then paste the address the browser shows
  printenv OPENAI_API_KEY | codex-login login --with-api-key
  ssh -L 1455:localhost:1455 HOST   # then run codex-login login on HOST
""",
    _STORE_ENV,
    _ISSUER_ENV,
    _NETWORK_ENV,
    environment_help(settings.BROWSER),
)
STATUS_ABOUT = """\
Show how you are logged in, without touching the network. The first line is the
Codex CLI's: "Logged in using ChatGPT", "Logged in using an API key - sk-...",
or "Not logged in". The indented lines below it name the account, plan and
workspace, where the login is stored and when the access token expires; -v adds
the last refresh, the client id and whether a refresh is due (when not logged
in: where it looked, in order). --json prints the details as JSON on stdout, in
place of the indented lines unless -v is given."""
STATUS_EPILOG = _epilog(
    """\
  codex-login status
  codex-login status -v --codex-home /srv/codex
  codex-login status --json | jq -r .email
""",
    _STORE_ENV,
    _API_KEY_ENV,
    _BROKER_ENV,
    exit_status="  0 logged in; 1 not logged in, or the stored login cannot be read or used\n",
)
TOKEN_ABOUT = """\
Print the bearer credential of the current login on stdout, and nothing else:
the API key, or the ChatGPT access token, refreshed first when it is due (within
5 minutes of its expiry). --json adds its mode, expiry and account id. --broker
asks a running token broker (codex-login serve) instead of reading a store. This
is what scripts call, and what the Codex CLI's provider auth.command can run."""  # noqa: S105  (help text)
TOKEN_EPILOG = _epilog(
    """\
  curl https://api.openai.com/v1/models \\
    -H "Authorization: Bearer $(codex-login token)"
  codex-login token --json
  codex-login token --broker ~/.codex/broker.sock
""",
    _STORE_ENV,
    _API_KEY_ENV,
    _BROKER_ENV,
    _ISSUER_ENV,
    _NETWORK_ENV,
    exit_status="""\
  0 printed; 4 a person must log in (nothing is stored, the session ended, or
  the stored login is unusable or refused by the policy); 1 any other failure:
  network, issuer, store or broker trouble a retry may cure, or a setting or
  file a person must fix (the message names it)
""",
)
EXPORT_ABOUT = """\
Write the stored login to stdout in auth.json format, under the store's lock, to
move it to another store or machine. A terminal is refused unless --force: the
output is a live credential. --move removes the login here once written, because
two live copies of one single-use refresh token end each other's session."""
EXPORT_EPILOG = _epilog(
    """\
  codex-login export --move | CODEX_LOGIN_STORE=redis codex-login import
  codex-login export --move | ssh HOST codex-login import
""",
    _STORE_ENV,
)
IMPORT_ABOUT = """\
Store a login read from stdin (auth.json format, as export writes it), checked
like a file read, under the target store's lock. A different login already
stored here is kept unless --force."""
IMPORT_EPILOG = _epilog(
    """\
  codex-login export --move | CODEX_LOGIN_STORE=redis codex-login import
  codex-login import --force < auth.json
""",
    _STORE_ENV,
)
SERVE_ABOUT = """\
Run a token broker: hand out access tokens to sandboxes and containers over a
Unix socket (and optionally loopback TCP), refreshing the login when due; they
never see the refresh token. The socket serves only your user unless
--allow-uid or --allow-gid; TCP clients must send the secret in --secret-file
as a bearer token. SIGTERM or Ctrl-C stops it cleanly."""
SERVE_EPILOG = _epilog(
    """\
  codex-login serve
  codex-login token --broker ~/.codex/broker.sock   # in the sandbox
  (umask 077; head -c 32 /dev/urandom | base64 > ~/.codex/broker.secret)
  codex-login serve --tcp 8765 --secret-file ~/.codex/broker.secret
""",
    _STORE_ENV,
    _API_KEY_ENV,
    _ISSUER_ENV,
    _NETWORK_ENV,
    environment_help(settings.SERVE),
)
LOGOUT_ABOUT = """\
Revoke the refresh token at the issuer that issued it (best effort, 10 s), then
delete the stored credentials. --local skips revoking: revoking signs out every
machine that shares the login. Exit status 0 both when a login was removed and
when none was stored."""
LOGOUT_EPILOG = _epilog(
    """\
  codex-login logout
  codex-login logout --local
""",
    _STORE_ENV,
    _NETWORK_ENV,
)
ACCOUNTS_ABOUT = """\
List the stored logins: the active one (in auth.json, what the Codex CLI uses) and
the others kept beside it. A new login of another account keeps the previous one
here instead of discarding it; `codex-login switch NAME` brings it back. Each line
shows the name to use with `switch` and `--account`, the email, plan, workspace
id and issuer; `*` marks the active one."""
ACCOUNTS_EPILOG = _epilog(
    """\
  codex-login accounts
  codex-login accounts --json | jq -r '.[] | select(.active) | .name'
""",
    _STORE_ENV,
    _BROKER_ENV,
)
SWITCH_ABOUT = """\
Make another stored login the active one, named by its account name, email or
workspace id. Under the lock, the active login goes back to its slot first, with
its latest (possibly rotated) tokens, then the chosen one becomes auth.json: the
Codex CLI uses it from its next request. Nothing is sent to the issuer."""
SWITCH_EPILOG = _epilog(
    """\
  codex-login switch work
  codex-login switch alice@example.com
""",
    _STORE_ENV,
)

DEMO_ABOUT = """\
Watch the whole life of a login, against a fake issuer started on a free
loopback port, in a temporary CODEX_HOME removed at the end: your own
credentials are never read or changed. It signs in through the real callback
server (in your browser when there is a graphical one, else over HTTP by
itself), shows status, lets a short-lived access token expire and refreshes it,
runs 8 `codex-login token` processes at once (one refresh), and logs out
(one revoke). Each step is a line or two with its time; it takes a few seconds."""
DEMO_EPILOG = _epilog(
    """\
  codex-login demo
  codex-login demo --no-browser --json | jq '.steps[] | {step, ok, seconds}'
""",
    "  CODEX_HOME                 not used: the demo's login lives in a temporary one\n",
    "  TMPDIR                     where the temporary CODEX_HOME is made\n",
    "  BROWSER, DISPLAY           the browser to open (on Linux, DISPLAY is needed)\n",
)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's parser by name (for its usage errors)."""
    parser = argparse.ArgumentParser(
        prog="codex-login",
        formatter_class=HelpFormatter,
        description=(
            "Sign in with ChatGPT or an OpenAI API key, and hand out valid bearer tokens.\n"
            "Credentials live in $CODEX_HOME/auth.json (or the store CODEX_LOGIN_STORE\n"
            "names), shared with the Codex CLI."
        ),
        epilog=(
            "Run `codex-login help COMMAND` for a command's description, examples and\n"
            "environment. Messages go to stderr, data (tokens, JSON) to stdout.\n\n"
            "exit status:\n"
            "  0 success, 1 failure, 2 usage error, 4 `token` only: a person must log in,\n"
            "  130 interrupted, 141 whoever read stdout went away"
        ),
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument("--codex-home", type=Path, metavar="DIR", help=CODEX_HOME_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    # The global options after the command too (`codex-login status -v --codex-home DIR`);
    # SUPPRESS keeps a value given before the command from being reset by this default.
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument(
        "--codex-home", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=CODEX_HOME_HELP
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say more"
    )
    # prog: what argparse would lay out a usage line (and measure the terminal) to find
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", prog="codex-login"
    )
    commands: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, summary: str, about: str, epilog: str) -> argparse.ArgumentParser:
        commands[name] = subparsers.add_parser(
            name,
            parents=[common],
            help=summary,
            description=about,
            epilog=epilog,
            formatter_class=HelpFormatter,
        )
        return commands[name]

    login = command("login", "sign in with ChatGPT (or an API key)", LOGIN_ABOUT, LOGIN_EPILOG)
    login.add_argument(
        "--with-api-key",
        action="store_true",
        help="store an OpenAI API key read from stdin (typed at a hidden prompt at a terminal)",
    )
    login.add_argument("--api-key", metavar="KEY", help=argparse.SUPPRESS)
    login.add_argument(
        "--device-auth",
        action="store_true",
        help="sign in on another device with a code (for machines without a browser)",
    )
    login.add_argument(
        "--no-browser", action="store_true", help="only print the URL (browser sign-in)"
    )
    login.add_argument(
        "--port",
        type=_port,
        metavar="N",
        help="callback port (default 1455, then 1457; 0 = any; browser sign-in)",
    )
    login.add_argument("--issuer", metavar="URL", help=f"OAuth issuer (default {DEFAULT_ISSUER})")
    login.add_argument(
        "--client-id", metavar="ID", help="OAuth client id (required with another --issuer)"
    )
    login.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"give up after this long (default {LOGIN_TIMEOUT:g})",
    )
    login.set_defaults(run=_login, check=_check_login_options)

    status = command("status", "show how you are logged in", STATUS_ABOUT, STATUS_EPILOG)
    status.add_argument("--json", action="store_true", help="print details as JSON on stdout")
    status.set_defaults(run=_status)

    token = command(
        "token", "print the bearer token, refreshed when due", TOKEN_ABOUT, TOKEN_EPILOG
    )
    token.add_argument("--json", action="store_true", help="add its mode and expiry, as JSON")
    token.add_argument(
        "--broker",
        metavar="PATH|URL",
        help="ask this token broker instead of reading a store (default: $CODEX_LOGIN_BROKER)",
    )
    token.set_defaults(run=_token)

    export = command(
        "export",
        "write the stored login to stdout (auth.json format), to move it to another store",
        EXPORT_ABOUT,
        EXPORT_EPILOG,
    )
    export.add_argument(
        "--move",
        action="store_true",
        help="remove it here once handed over (two live copies end each other's session)",
    )
    export.add_argument("--force", action="store_true", help="write to a terminal too")
    export.set_defaults(run=_export)

    import_ = command(
        "import",
        "store a login read from stdin (auth.json format)",
        IMPORT_ABOUT,
        IMPORT_EPILOG,
    )
    import_.add_argument(
        "--force", action="store_true", help="replace a different login stored here"
    )
    import_.set_defaults(run=_import)

    serve = command(
        "serve",
        "hand out access tokens to sandboxes over a socket (a token broker)",
        SERVE_ABOUT,
        SERVE_EPILOG,
    )
    _serve_options(serve)

    logout = command(
        "logout", "revoke and remove the stored credentials", LOGOUT_ABOUT, LOGOUT_EPILOG
    )
    logout.add_argument(
        "--local",
        action="store_true",
        help="only delete here; don't revoke (revoking signs out every machine sharing the login)",
    )
    logout.set_defaults(run=_logout)

    _account_commands(command, status, token, logout)

    _demo_options(
        command(
            "demo", "sign in, refresh and log out against a fake issuer", DEMO_ABOUT, DEMO_EPILOG
        )
    )

    help_ = subparsers.add_parser(
        "help",
        help="show the help of codex-login or of one command",
        description="Show the help of codex-login, or of COMMAND (the same as COMMAND --help).",
        formatter_class=SizedHelpFormatter,
    )
    help_.add_argument(
        "topic", nargs="?", choices=[*commands, "help"], metavar="COMMAND", help="a command"
    )
    commands["help"] = help_
    return parser, commands


def _serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--socket", type=Path, metavar="PATH", help="Unix socket (default $CODEX_HOME/broker.sock)"
    )
    serve.add_argument(
        "--tcp",
        type=_port,
        metavar="PORT",
        help="also listen on 127.0.0.1:PORT (needs --secret-file)",
    )
    serve.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help="the secret TCP clients send as a bearer token (a file only you can read)",
    )
    serve.add_argument(
        "--allow-uid",
        type=int,
        action="append",
        default=[],
        metavar="UID",
        help="also serve this user on the socket (repeatable; default: only yours)",
    )
    serve.add_argument(
        "--allow-gid",
        type=int,
        action="append",
        default=[],
        metavar="GID",
        help="also serve users in this group (user and group databases) on the socket (repeatable)",
    )
    serve.set_defaults(run=_serve)


def _account_commands(
    command: Callable[[str, str, str, str], argparse.ArgumentParser],
    *acting: argparse.ArgumentParser,
) -> None:
    """``accounts``, ``switch`` and the ``--account`` option of the commands ``acting``."""
    accounts = command(
        "accounts", "list the stored logins, the active one marked", ACCOUNTS_ABOUT, ACCOUNTS_EPILOG
    )
    accounts.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    accounts.set_defaults(run=_accounts)

    switch = command(
        "switch", "make another stored login the active one", SWITCH_ABOUT, SWITCH_EPILOG
    )
    switch.add_argument("target", metavar="NAME|EMAIL|WORKSPACE", help="the login to activate")
    switch.set_defaults(run=_switch)

    for one in acting:
        one.add_argument(
            "--account",
            metavar="NAME",
            help="act on this stored login (name, email or workspace id) without switching",
        )


class SizedHelpFormatter(argparse.HelpFormatter):
    """argparse's, measuring the terminal only when it lays out help.

    argparse also builds a formatter for every argument it is given (to check its
    metavar), and its own measures the terminal as it is made, with shutil: importing
    shutil (bz2, lzma, zlib) cost every command about 1.5 ms. The width is argparse's,
    ``shutil.get_terminal_size()``, taken when ``format_help`` runs.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or UNMEASURED)
        self._measure = width is None
        self._asked_position = max_help_position

    def format_help(self) -> str:
        if self._measure:
            import shutil  # noqa: PLC0415  (see above)

            # argparse's __init__ sizes these two from the width (minus its margin of 2)
            self._width = shutil.get_terminal_size().columns - 2
            self._max_help_position = min(
                self._asked_position, max(self._width - 20, self._indent_increment * 2)
            )
            self._measure = False
        return super().format_help()


UNMEASURED = 78  # a formatter's width until it lays out help


class HelpFormatter(SizedHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The same, keeping the lines of the descriptions and epilogs as written."""


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.pop("default", None)
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            number = version("codex-login")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "(version unknown: not installed)"
        print(f"codex-login {number}")
        parser.exit()


def _check_login_options(args: argparse.Namespace) -> None:
    """Refuse options that contradict each other, before anything is set up."""
    if args.api_key is not None:
        raise UsageError(
            "--api-key is refused: keys in arguments leak to other users through ps; "
            f"pipe the key in instead: {PIPE_HINT}"
        )
    browser_only = {"--no-browser": args.no_browser, "--port": args.port is not None}
    if args.with_api_key:
        chatgpt_only = {
            "--device-auth": args.device_auth,
            **browser_only,
            "--issuer": args.issuer is not None,
            "--client-id": args.client_id is not None,
            "--timeout": args.timeout is not None,
        }
        given = [name for name, present in chatgpt_only.items() if present]
        if given:
            raise UsageError(
                f"--with-api-key cannot be combined with {', '.join(given)}: those options "
                "are for signing in with ChatGPT; drop them, or drop --with-api-key"
            )
    elif args.device_auth:
        given = [name for name, present in browser_only.items() if present]
        if given:
            raise UsageError(
                f"--device-auth cannot be combined with {', '.join(given)}: those options "
                "are for the browser sign-in; drop them, or drop --device-auth"
            )


def _login(service: AuthService, args: argparse.Namespace) -> int:
    notice = getattr(args, "store_notice", None)  # which store `auto` chose (_service_for)
    if notice:
        _say(notice)
    service.check_writable()  # before a key is typed or anyone signs in
    outcome = None
    if args.with_api_key:
        service.login_with_api_key(_read_key())
    else:
        before = service.store.fingerprint()
        try:
            flow = _login_with_device_code if args.device_auth else _login_in_browser
            outcome = flow(service, args)
        except (KeyboardInterrupt, LoginTimedOut):
            # Stopped after the issuer answered: if the login was stored, it is done.
            if not _saved_since(service, before):
                raise
            _say("The sign-in had been saved when the login was stopped; you are logged in.")
    _say("Successfully logged in")
    if outcome is not None:
        _say_who(outcome)
    if args.verbose:
        _say_field("credentials", service.store.location)
        if outcome is not None:
            _say_field("API key stored", outcome.api_key_stored)
    return EXIT_OK


def _saved_since(service: AuthService, before: Hashable) -> bool:
    """Whether a record was committed since the store showed ``before``: its
    fingerprint, the one answer to "did a commit happen?", tells."""
    from codex_login.application.credentials import record_or_none  # noqa: PLC0415

    try:
        return service.store.fingerprint() != before and record_or_none(service.store) is not None
    except CodexLoginError:
        return False  # the store cannot tell now: claim nothing


def _say_who(outcome: LoginOutcome) -> None:
    """``Logged in as alice@example.com (ChatGPT Pro)``: the account, by email or else id."""
    claims = outcome.id_token
    who = claims.email or claims.account_id
    if who:
        plan = f"ChatGPT {_plan_title(plan_name(claims.plan))}" if claims.plan else "ChatGPT"
        _say(printable(f"Logged in as {who} ({plan})"))


def _plan_title(plan: str) -> str:
    """``pro`` -> ``Pro``: a plan as people write it (an unknown one as the issuer did)."""
    return plan[:1].upper() + plan[1:]


def _login_timeout(args: argparse.Namespace) -> float:
    return float(args.timeout) if args.timeout is not None else LOGIN_TIMEOUT


def _login_in_browser(service: AuthService, args: argparse.Namespace) -> LoginOutcome:
    import asyncio  # noqa: PLC0415  (the HTTP stack loads only for logins)
    import logging  # noqa: PLC0415

    if not args.verbose:
        # aiohttp reports malformed requests with a traceback (and request data) through
        # Python's last-resort handler; the login answers them with a 4xx and goes on.
        logging.getLogger("aiohttp").addHandler(logging.NullHandler())

    from codex_login.adapters.browser import SystemBrowser  # noqa: PLC0415

    stdin = _stdin_for_pastes(args)
    browser = SystemBrowser(args.settings.graphical_display)

    def announce(url: str, port: int) -> None:
        _say(f"Starting local login server on http://localhost:{port}.")
        if args.no_browser:
            _say("Open this URL in a browser to sign in:")
        else:
            _say("If your browser did not open, navigate to this URL to authenticate:")
        _say(f"\n{printable(url)}\n")
        _say(
            "On a remote or headless machine, use `codex-login login --device-auth` instead "
            f"(or forward the port: ssh -L {port}:localhost:{port} HOST)."
        )
        if stdin is not None:
            _say(
                "If the browser cannot reach this machine, paste the address it ended on "
                f"(it starts with http://localhost:{port}/auth/callback) here and press Enter."
            )

    def refused(reason: str) -> None:
        sentence = f"{reason[:1].upper()}{reason[1:].rstrip('.')}."
        _say(printable(f"That address was not accepted. {sentence} Still waiting for the sign-in."))

    return asyncio.run(
        service.login_in_browser(
            announce=announce,
            open_browser=None if args.no_browser else browser.open,
            port=args.port,
            timeout=_login_timeout(args),
            pasted=None if stdin is None else _pasted_lines(stdin),
            refused=refused,
        )
    )


def _stdin_for_pastes(args: argparse.Namespace) -> int | None:
    """stdin's descriptor when it takes the pasted redirect: always with --no-browser,
    else at a terminal (a script's stdin is not a person's)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no stdin at all, or not a real one
        return None
    return fd if args.no_browser or os.isatty(fd) else None


def _pasted_lines(fd: int) -> AsyncIterator[str]:
    from codex_login.adapters.pasted_lines import (  # noqa: PLC0415
        descriptor_lines,
        lines_in_background,
    )

    return lines_in_background(descriptor_lines(fd))


def _login_with_device_code(service: AuthService, args: argparse.Namespace) -> LoginOutcome:
    import asyncio  # noqa: PLC0415

    def announce(device: DeviceCode) -> None:
        page, code = printable(device.verification_uri), printable(device.user_code)
        _say(f"To sign in, open this page on any device:\n\n    {page}\n")
        _say(f"and enter this code:\n\n    {code}\n")
        if device.verification_uri_complete:
            _say(printable(f"(or open {device.verification_uri_complete})"))
        _say(f"Waiting for approval; the code expires in {round(device.expires_in / 60)} minutes.")

    return asyncio.run(
        service.login_with_device_code(announce=announce, timeout=_login_timeout(args))
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from exc
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if not seconds > 0:
        raise argparse.ArgumentTypeError("the timeout must be more than 0 seconds")
    return seconds


def _read_key() -> str:
    """The API key: piped in on stdin, or typed at a prompt that does not echo it."""
    if sys.stdin is None:
        raise UsageError(
            f"--with-api-key reads the key from stdin, but there is none; pipe it in: {PIPE_HINT}"
        )
    if sys.stdin.isatty():
        return _prompt_for_key()
    data = sys.stdin.buffer.read(MAX_KEY_BYTES + 1)
    if len(data) > MAX_KEY_BYTES:
        raise UsageError(
            "stdin holds more than 64 KiB, so it is not an API key; pipe in just the key"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError("the API key on stdin is not UTF-8 text; pipe in just the key") from exc


def _prompt_for_key() -> str:
    import getpass  # noqa: PLC0415  (only a key typed at a terminal needs it)

    try:
        return getpass.getpass(KEY_PROMPT, stream=sys.stderr)
    except EOFError:  # Ctrl-D: nothing typed, and the prompt's line is still open
        _say("")
        return ""
    except KeyboardInterrupt:
        _say("")
        raise


def _status(service: AuthService | None, args: argparse.Namespace) -> int:
    if service is None:
        return _status_from_broker(args)
    try:
        status = service.status()
    except PolicyViolation as exc:
        # As the Codex CLI: a login the policy forbids counts as none (the file is kept).
        if args.json:
            from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

            _emit(documents.dumps(documents.NotLoggedInDocument(refused=str(exc))))
        _say("Not logged in")
        _say_scrubbed(f"  {with_remedy(exc)}", service)
        return EXIT_FAILURE
    except CodexLoginError as exc:
        _say_scrubbed(f"Error checking login status: {with_remedy(exc)}", service)
        return EXIT_FAILURE
    if status is not None:
        for warning in status.warnings:
            _say_scrubbed(f"Warning: {warning}", service)
    if args.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        document = (
            documents.NotLoggedInDocument()
            if status is None
            else documents.StatusDocument.of(status)
        )
        _emit(documents.dumps(document))
    if status is None:
        _say("Not logged in")  # the Codex CLI's line, alone: scripts match on it
        if args.verbose:
            _say_scrubbed(f"  {looked_for(service.store.location)}", service)
        return EXIT_FAILURE
    _say(printable(_logged_in_line(status)))
    if args.verbose or not args.json:  # --json alone: the details are on stdout
        _say_details(status, now=service.clock.now(), verbose=args.verbose)
    if status.foreign:
        _say(
            "  note: this login was written by another tool (the Codex CLI); codex-login "
            "keeps it as it is but has no token to hand out for it"
        )
    if status.overridden_by:
        _say(
            f"  note: the {status.overridden_by} is set; `token` and programs send it "
            "instead of this login"
        )
    return EXIT_OK


def _status_from_broker(args: argparse.Namespace) -> int:
    """In a sandbox: the login the broker hands tokens out for, from its token answer."""
    address = _broker_address(args)
    assert address is not None, "main() builds the service unless a broker is asked"  # noqa: S101
    try:
        current = _token_from_broker(address, args.settings)
    except NotLoggedIn as exc:
        if args.json:
            from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

            _emit(documents.dumps(documents.NotLoggedInDocument(refused=str(exc))))
        _say("Not logged in")
        _say(printable(f"  via the broker at {address}: {exc}"))
        return EXIT_FAILURE
    if args.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        _emit(documents.dumps(documents.BrokeredStatusDocument.of(current, address)))
    if current.mode is AuthMode.API_KEY:
        _say(printable(f"Logged in using an API key - {mask_api_key(current.token)}"))
    else:
        _say("Logged in using ChatGPT")
    _say(printable(f"  via the broker at {address}"))
    _say_field("account id", current.account_id)
    _say_field("access token", expiry_in_words(current.expires_at, SystemClock().now()))
    return EXIT_OK


def _logged_in_line(status: Status) -> str:
    """The Codex CLI's first line, word for word: scripts match on it."""
    if status.foreign:
        return f"Logged in using {status.foreign}"
    if status.masked_api_key is not None and status.mode is AuthMode.API_KEY:
        return f"Logged in using an API key - {status.masked_api_key}"
    return "Logged in using ChatGPT"


def _say_details(status: Status, *, now: datetime, verbose: bool) -> None:
    """Who is logged in, where it is stored and how long the access token lasts."""
    if status.mode is AuthMode.API_KEY:
        _say_field("credentials", status.source)
        return
    _say_field("email", status.email)
    _say_field("plan", _plan_title(status.plan) if status.plan else None)
    _say_field("account id", status.account_id)
    if verbose or status.issuer not in (None, DEFAULT_ISSUER):
        _say_field("issuer", status.issuer)
    _say_field("credentials", status.source)
    expiry = expiry_in_words(status.access_token_expires_at, now)
    if expiry is not None:
        due = status.refresh_due or expiry.startswith("expired")
        _say_field("access token", f"{expiry}; refreshed on next use" if due else expiry)
    if verbose:
        _say_field("access token expires at", _iso(status.access_token_expires_at))
        _say_field("last refresh", _iso(status.last_refresh))
        _say_field("refresh due", status.refresh_due)
        _say_field("client id", status.client_id)
        _say_field("stored API key", status.masked_api_key)


def expiry_in_words(expires_at: datetime | None, now: datetime) -> str | None:
    """``expires in 42 min``, ``expires in 3 h``, ``expired 2 days ago``; None when unknown.

    Minutes below two hours, hours below two days, then days, always rounded down (an
    expiry in 59 s is "under 1 min" away, never "1 min").
    """
    if expires_at is None:
        return None
    seconds = (expires_at - now).total_seconds()
    if seconds > 0:
        return f"expires in {_span(seconds)}"
    if seconds > -60:
        return "expired just now"
    return f"expired {_span(-seconds)} ago"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _say_field(label: str, value: object) -> None:
    """One indented ``label: value`` detail line; nothing for a missing value."""
    if isinstance(value, bool):
        _say(f"  {label}: {'yes' if value else 'no'}")
    elif value is not None:
        _say(printable(f"  {label}: {value}"))


def _service_for(args: argparse.Namespace) -> AuthService | None:
    """The application service, wired from the environment; none for `token --broker`,
    which in a sandbox reads no store and no issuer setting of its own."""
    if _brokered(args):
        return None

    def keep_notice(notice: str) -> None:
        args.store_notice = notice  # said by `login` only

    service = bootstrap(
        notify=_say,
        store_notice=keep_notice,
        environ=args.settings,
        codex_home=args.codex_home,
        issuer=getattr(args, "issuer", None),
        client_id=getattr(args, "client_id", None),
    )
    account = getattr(args, "account", None)
    return service.for_account(account) if account else service


def _login_words(args: argparse.Namespace) -> str:
    """The login command to run again: the way the user signed in."""
    if args.command == "login" and getattr(args, "device_auth", False):
        return "codex-login login --device-auth"
    return "codex-login login"


BROKERED_COMMANDS = ("token", "status", "accounts")


def _brokered(args: argparse.Namespace) -> bool:
    """``token`` asks a broker (``--broker``, CODEX_LOGIN_BROKER) instead of a store;
    ``status`` reports the broker's login, ``accounts`` says they live on its host."""
    return args.command in BROKERED_COMMANDS and bool(_broker_address(args))


def _broker_address(args: argparse.Namespace) -> str | None:
    return broker_address(args.settings, getattr(args, "broker", None))


def _token(service: AuthService | None, args: argparse.Namespace) -> int:
    broker = _broker_address(args)
    if broker:
        current = _token_from_broker(broker, args.settings)
    else:
        assert service is not None, "main() builds the service unless a broker is asked"  # noqa: S101
        current = _token_from_store(service)
    if args.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        _emit(documents.dumps(documents.TokenDocument.of(current)))
    else:
        _emit(printable(current.token))
    return EXIT_OK


def _token_from_store(service: AuthService) -> AccessToken:
    fresh = service.fresh()  # the hot path: one stat, one clock read, no event loop
    if fresh is not None:
        return fresh
    import asyncio  # noqa: PLC0415  (only a refresh needs an event loop)

    before = service.store.fingerprint()
    try:
        with _ctrl_c_raises():
            return asyncio.run(service.auth())
    except KeyboardInterrupt as exc:
        # The refresh goes on to its commit on its worker thread: wait for it, then say
        # so when it saved new tokens.
        from codex_login.application.seam import settle  # noqa: PLC0415  (a refresh only)

        settle()
        if _saved_since(service, before):
            raise Interrupted(
                "Interrupted, but the refreshed tokens were saved; run the command again."
            ) from exc
        raise


@contextlib.contextmanager
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt wherever the main thread is, and a Ctrl-C seen
    is never forgotten. Under Python's own handler asyncio.run would cancel its task
    instead, and a task that finishes meanwhile returns its result as if no Ctrl-C
    had come: the token would be printed with exit 0."""
    import signal  # noqa: PLC0415  (only a refresh needs it)

    seen: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt


def _token_from_broker(address: str, settings: Settings) -> AccessToken:
    """A sandbox's token: asked of the broker, which keeps the login (no store is read)."""
    return broker_client(address, settings, warn=_say).fetch()


def _export(service: AuthService, args: argparse.Namespace) -> int:
    from codex_login.adapters import auth_json  # noqa: PLC0415
    from codex_login.application.transfer import export_login  # noqa: PLC0415

    if sys.stdout.isatty() and not args.force:
        raise UsageError(
            "export refuses to write a live credential to a terminal; pipe it into import "
            "(codex-login export --move | CODEX_LOGIN_STORE=redis codex-login import), "
            "or pass --force to print it here"
        )

    def hand_over(record: CredentialRecord) -> None:
        try:
            sys.stdout.buffer.write(auth_json.encode(record))
            sys.stdout.flush()
        except BrokenPipeError as exc:  # nobody took it: the source must stay
            raise StdoutClosed from exc

    export_login(store=service.store, hand_over=hand_over, move=args.move)
    if args.move:
        _say(f"Exported and removed the login from {service.store.location}")
    else:
        _say(
            "Exported a live credential. The login stays here too: the first copy to refresh "
            "ends the other's session (use --move to hand it over)"
        )
    return EXIT_OK


def _import(service: AuthService, args: argparse.Namespace) -> int:
    from codex_login.adapters import auth_json  # noqa: PLC0415
    from codex_login.application.transfer import import_login  # noqa: PLC0415

    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(
            "import reads a login from stdin, not a terminal; pipe one in: "
            "codex-login export --move | CODEX_LOGIN_STORE=redis codex-login import"
        )
    data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise UsageError(
            "stdin holds more than 1 MiB, so it is not a login; pipe in what export writes"
        )
    loaded = auth_json.decode(data, "the login on stdin")
    for warning in loaded.warnings:
        _say(printable(f"Warning: {warning}"))
    changed = import_login(store=service.store, record=loaded.record, replace=args.force)
    where = service.store.location
    if changed:
        _say(f"Imported the login into {where}")
    else:
        _say(f"{where} already holds this login; nothing changed")
    return EXIT_OK


def _serve(service: AuthService, args: argparse.Namespace) -> int:
    from codex_login.entrypoints.serve import serve  # noqa: PLC0415  (loads aiohttp)

    serve(
        service,
        socket_path=args.socket or codex_home_from(args.settings, args.codex_home) / "broker.sock",
        tcp_port=args.tcp,
        secret_file=args.secret_file,
        allow_uids=args.allow_uid,
        allow_gids=args.allow_gid,
        say=_say,
        settings=args.settings,
    )
    return EXIT_OK


def _accounts(service: AuthService | None, args: argparse.Namespace) -> int:
    if service is None:
        # A sandbox sees one token, not the logins: saying "none" would be false.
        _say(
            printable(
                f"Accounts are managed on the broker's host ({_broker_address(args)}); "
                "run `codex-login accounts` there"
            )
        )
        return EXIT_FAILURE
    accounts = service.accounts()
    if args.json:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        _emit(documents.dumps([documents.AccountDocument.of(account) for account in accounts]))
        return EXIT_OK
    if not accounts:
        _say("Not logged in")
        return EXIT_OK
    for account in accounts:
        _emit(printable(_account_line(account)))
    return EXIT_OK


def _account_line(account: Account) -> str:
    """``* alice  alice@example.com  ChatGPT Pro  ws-123  https://auth.openai.com``"""
    if account.mode == AuthMode.API_KEY.value:
        what = "API key"
    elif account.mode == AuthMode.CHATGPT.value:
        what = f"ChatGPT {_plan_title(account.plan)}" if account.plan else "ChatGPT"
    else:
        what = account.mode
    fields = [account.name, account.email, what, account.workspace]
    if account.issuer not in (None, DEFAULT_ISSUER):
        fields.append(account.issuer)
    marker = "*" if account.active else " "
    return f"{marker} " + "  ".join(field for field in fields if field)


def _switch(service: AuthService, args: argparse.Namespace) -> int:
    # A malformed active record is replaced by the switch: listed as no login here.
    before = next((a for a in service.accounts(strict=False) if a.active), None)
    chosen = service.switch(args.target)
    if before is not None and before.name == chosen.name:
        _say(printable(f"{chosen.name} is already the active account"))
        return EXIT_OK
    who = f" ({chosen.email})" if chosen.email else ""
    _say(printable(f"Switched to {chosen.name}{who}"))
    if before is not None:
        _say(
            printable(f"  {before.name} is kept; `codex-login switch {before.name}` brings it back")
        )
    return EXIT_OK


def _logout(service: AuthService, args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    secrets = _stored_secrets(service)  # now: the logout deletes the record
    result = asyncio.run(service.logout(revoke=not args.local))
    if result.revoke_error:
        warning = f"Warning: could not revoke the login at the issuer: {result.revoke_error}"
        _say(printable(scrub(warning, secrets)))
    _say("Successfully logged out" if result.removed else "Not logged in")
    if result.unreadable and result.removed and not args.local:
        _say(
            printable(
                f"  nothing was revoked at the issuer: {service.store.location} could not be "
                f"read ({result.unreadable}), so a login it held stays valid until it expires"
            )
        )
    return EXIT_OK


def _demo_options(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--json", action="store_true", help="print the steps as JSON on stdout")
    demo.add_argument(
        "--no-browser", action="store_true", help="sign in over HTTP even when a browser could"
    )
    demo.add_argument(
        "--port", type=_port, default=0, metavar="N", help="callback port (default 0: any free)"
    )
    demo.set_defaults(run=_demo)


def _demo(service: AuthService, args: argparse.Namespace) -> int:
    """Run the demo; ``service`` (the user's own store) is never used."""
    # The demo runs on the testing kit's fake issuer. The kit sits above the
    # entrypoints (it builds on them), so this one import is a declared exception
    # in the import-linter contract (pyproject.toml); it loads only for `demo`.
    from codex_login.testing import demo  # noqa: PLC0415

    try:
        demo.run(
            json_output=args.json,
            port=args.port,
            use_browser=not args.no_browser,
            say=_say,
            emit=_emit,
            verbose=args.verbose,
        )
    except CodexLoginError as exc:
        # Said here, not by main(): its scrubbing would read the user's own store.
        _say(printable(f"Error: {exc}"))
        if args.verbose:
            for cause in _causes(exc):
                _say(printable(f"  caused by {type(cause).__name__}: {cause}"))
        return EXIT_FAILURE
    return EXIT_OK


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def _stored_secrets(service: AuthService | None) -> list[str]:
    """The secrets a message must not show: the stored record's, best effort, and the env key."""
    if service is None:
        return []
    secrets = [service.options.env_api_key or ""]
    try:
        loaded = service.store.load()
    except CodexLoginError:  # unreadable: it gave us no secrets to hide either
        loaded = None
    if loaded is not None:
        record, tokens = loaded.record, loaded.record.tokens
        secrets.append(record.openai_api_key or "")
        if tokens is not None:
            secrets += [tokens.access_token, tokens.refresh_token, tokens.id_token.raw]
    return [secret for secret in secrets if secret]


def _say_scrubbed(message: str, service: AuthService | None) -> None:
    """Say a one-line message that may quote the issuer or a stored field, without the
    secrets and without control characters."""
    _say(printable(scrub(message, _stored_secrets(service))))


def _emit(data: str) -> None:
    """Data to stdout, flushed now: a closed pipe then stops us before any more is said."""
    try:
        print(printable(data, keep_newlines=True), flush=True)
    except BrokenPipeError as exc:  # only here: a broken pipe elsewhere is no reader gone
        raise StdoutClosed from exc


def _say(message: str) -> None:
    """A message to stderr; the last guard: no control character but our line breaks."""
    print(printable(message, keep_newlines=True), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
