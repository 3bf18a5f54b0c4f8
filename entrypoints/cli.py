"""The ``codex-login`` command: translates arguments and errors, decides nothing.

Messages go to stderr, data (tokens, JSON) to stdout. Exit codes: 0 success,
1 failure, 2 usage error, 130 interrupted, 141 stdout closed early (``| head``).
Messages that may quote the issuer or a stored field pass through ``scrub`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.application.service import AuthService
from codex_login.application.status import Status
from codex_login.domain.errors import CodexLoginError, LoginTimedOut
from codex_login.domain.masking import scrub
from codex_login.domain.plans import plan_name
from codex_login.entrypoints.bootstrap import bootstrap, broker_client, codex_home_from

if TYPE_CHECKING:
    from codex_login.application.signin import LoginOutcome
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.tokens import AccessToken

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# A reader that stops early (`codex-login status --json | head -1`) is no failure of ours:
# end quietly with the status a shell shows for a tool killed by SIGPIPE, as git and the
# coreutils do (128 + 13, like 130 = 128 + SIGINT), so `set -o pipefail` still sees it.
EXIT_STDOUT_CLOSED = 141
MAX_KEY_BYTES = 64 * 1024
MAX_IMPORT_BYTES = 1 << 20
PIPE_HINT = "printenv OPENAI_API_KEY | codex-login login --with-api-key"


class UsageError(Exception):
    """Bad command-line input: exit 2."""


class StdoutClosed(Exception):
    """Whoever read stdout has gone (``| head``): end quietly, exit 141."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose:
        import logging  # noqa: PLC0415  (only when asked: it costs start-up time)

        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        logging.getLogger("codex_login").setLevel(logging.DEBUG)
    service = None
    try:
        service = bootstrap(
            notify=_say,
            codex_home=args.codex_home,
            issuer=getattr(args, "issuer", None),
            client_id=getattr(args, "client_id", None),
        )
        return int(args.run(service, args))
    except UsageError as exc:
        parser.error(str(exc))
    except StdoutClosed:
        return _stdout_closed()
    except KeyboardInterrupt:
        _say("Cancelled.")
        return EXIT_INTERRUPTED
    except CodexLoginError as exc:
        _say_scrubbed(f"Error: {exc}", service)
        if args.verbose:
            for cause in _causes(exc):
                _say_scrubbed(f"  caused by {type(cause).__name__}: {cause}", service)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if args.verbose:
            raise
        # Its message could hold anything, secrets included: -v shows it to those who ask.
        _say(f"Error: unexpected {type(exc).__name__}, a bug in codex-login (-v shows details)")
        return EXIT_FAILURE


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codex-login",
        description="Sign in with ChatGPT or an OpenAI API key; credentials live in "
        "$CODEX_HOME/auth.json, shared with the Codex CLI.",
    )
    parser.add_argument(
        "--codex-home",
        type=Path,
        metavar="DIR",
        help="credential directory (default: $CODEX_HOME or ~/.codex)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    # -v after the command too (`codex-login status -v`); SUPPRESS keeps a -v given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say more"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser(
        "login", parents=[verbose], help="sign in with ChatGPT (or an API key)"
    )
    login.add_argument(
        "--with-api-key", action="store_true", help="read an OpenAI API key from stdin"
    )
    login.add_argument("--api-key", metavar="KEY", help=argparse.SUPPRESS)
    login.add_argument(
        "--device-auth",
        action="store_true",
        help="sign in on another device with a code (for machines without a browser)",
    )
    login.add_argument("--no-browser", action="store_true", help="only print the URL")
    login.add_argument(
        "--port", type=_port, metavar="N", help="callback port (default 1455, then 1457; 0 = any)"
    )
    login.add_argument(
        "--issuer", metavar="URL", help="OAuth issuer (default https://auth.openai.com)"
    )
    login.add_argument("--client-id", metavar="ID", help="OAuth client id")
    login.add_argument(
        "--timeout",
        type=_seconds,
        default=15 * 60,
        metavar="SECONDS",
        help="give up after this long (default 900)",
    )
    login.set_defaults(run=_login)

    status = commands.add_parser("status", parents=[verbose], help="show how you are logged in")
    status.add_argument("--json", action="store_true", help="print details as JSON on stdout")
    status.set_defaults(run=_status)

    token = commands.add_parser(
        "token", parents=[verbose], help="print the bearer token, refreshed when due"
    )
    token.add_argument("--json", action="store_true", help="add its kind and expiry, as JSON")
    token.add_argument(
        "--broker",
        metavar="PATH|URL",
        help="ask this token broker instead of reading a store (default: $CODEX_LOGIN_BROKER)",
    )
    token.set_defaults(run=_token)

    export = commands.add_parser(
        "export",
        parents=[verbose],
        help="write the stored login to stdout (auth.json format), to move it to another store",
    )
    export.add_argument(
        "--move",
        action="store_true",
        help="remove it here once handed over (two live copies end each other's session)",
    )
    export.add_argument("--force", action="store_true", help="write to a terminal too")
    export.set_defaults(run=_export)

    import_ = commands.add_parser(
        "import", parents=[verbose], help="store a login read from stdin (auth.json format)"
    )
    import_.add_argument(
        "--force", action="store_true", help="replace a different login stored here"
    )
    import_.set_defaults(run=_import)

    serve = commands.add_parser(
        "serve",
        parents=[verbose],
        help="hand out access tokens to sandboxes over a socket (a token broker)",
    )
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
        help="the secret TCP clients send as a bearer token",
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
        help="also serve members of this group on the socket (repeatable)",
    )
    serve.set_defaults(run=_serve)

    logout = commands.add_parser(
        "logout", parents=[verbose], help="revoke and remove the stored credentials"
    )
    logout.add_argument(
        "--local",
        action="store_true",
        help="only delete here; don't revoke (revoking signs out every machine sharing the login)",
    )
    logout.set_defaults(run=_logout)
    return parser


def _login(service: AuthService, args: argparse.Namespace) -> int:
    if service.store_notice:
        _say(service.store_notice)
    if args.api_key is not None:
        raise UsageError(
            f"--api-key is not accepted (keys in arguments leak via ps); use: {PIPE_HINT}"
        )
    outcome = None
    if args.with_api_key:
        service.login_with_api_key(_read_key_from_stdin())
    else:
        before = service.login_marker()
        try:
            flow = _login_with_device_code if args.device_auth else _login_in_browser
            outcome = flow(service, args)
        except (KeyboardInterrupt, LoginTimedOut):
            # Stopped after the issuer answered: if the login was stored, it is done.
            if service.login_marker() in (None, before):
                raise
            _say("The sign-in had been saved when the login was stopped.")
    _say("Successfully logged in")
    if args.verbose:
        _say_field("credentials", service.store.location)
        if outcome is not None:
            claims = outcome.id_token
            _say_field("email", claims.email)
            _say_field("plan", plan_name(claims.plan) if claims.plan else None)
            _say_field("API key stored", outcome.api_key_stored)
    return EXIT_OK


def _login_in_browser(service: AuthService, args: argparse.Namespace) -> LoginOutcome:
    import asyncio  # noqa: PLC0415  (the HTTP stack loads only for logins)
    import logging  # noqa: PLC0415

    if not args.verbose:
        # aiohttp reports malformed requests with a traceback (and request data) through
        # Python's last-resort handler; the login answers them with a 4xx and goes on.
        logging.getLogger("aiohttp").addHandler(logging.NullHandler())

    from codex_login.adapters.browser import SystemBrowser  # noqa: PLC0415

    def announce(url: str, port: int) -> None:
        _say(f"Starting local login server on http://localhost:{port}.")
        _say("If your browser did not open, navigate to this URL to authenticate:")
        _say(f"\n{url}\n")
        _say(
            "On a remote or headless machine, use `codex-login login --device-auth` instead "
            f"(or forward the port: ssh -L {port}:localhost:{port} HOST)."
        )

    return asyncio.run(
        service.login_in_browser(
            announce=announce,
            open_browser=None if args.no_browser else SystemBrowser().open,
            port=args.port,
            timeout=args.timeout,
        )
    )


def _login_with_device_code(service: AuthService, args: argparse.Namespace) -> LoginOutcome:
    import asyncio  # noqa: PLC0415

    async def sign_in() -> LoginOutcome:
        login = service.begin_device_login()
        device = await login.start()
        _say(f"To sign in, open this page on any device:\n\n    {device.verification_uri}\n")
        _say(f"and enter this code:\n\n    {device.user_code}\n")
        if device.verification_uri_complete:
            _say(f"(or open {device.verification_uri_complete})")
        _say(f"Waiting for approval; the code expires in {round(device.expires_in / 60)} minutes.")
        return await asyncio.wait_for(login.wait(device), args.timeout)

    try:
        return asyncio.run(sign_in())
    except TimeoutError as exc:
        raise LoginTimedOut(
            f"the code was not approved within {args.timeout:g} s; run the login again"
        ) from exc


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


def _read_key_from_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(
            f"--with-api-key reads the key from stdin, not a terminal; use: {PIPE_HINT}"
        )
    data = sys.stdin.buffer.read(MAX_KEY_BYTES + 1)
    if len(data) > MAX_KEY_BYTES:
        raise UsageError("stdin holds more than 64 KiB; pipe in just the API key")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError("the API key on stdin is not UTF-8 text") from exc


def _status(service: AuthService, args: argparse.Namespace) -> int:
    try:
        status = service.status()
    except CodexLoginError as exc:
        _say_scrubbed(f"Error checking login status: {exc}", service)
        return EXIT_FAILURE
    if status is not None:
        for warning in status.warnings:
            _say_scrubbed(f"Warning: {warning}", service)
    if args.json:
        _emit(json.dumps(_status_document(status), indent=2))
    if status is None:
        _say("Not logged in")
        return EXIT_FAILURE
    if status.masked_api_key is not None and status.mode.value == "apikey":
        _say(f"Logged in using an API key - {status.masked_api_key}")
    else:
        _say("Logged in using ChatGPT")
    if args.verbose:
        _say_details(status)
    return EXIT_OK


def _status_document(status: Status | None) -> dict[str, object]:
    if status is None:
        return {"logged_in": False}
    return {
        "logged_in": True,
        "mode": status.mode.value,
        "source": status.source,
        "email": status.email,
        "plan": status.plan,
        "account_id": status.account_id,
        "issuer": status.issuer,
        "client_id": status.client_id,
        "last_refresh": _iso(status.last_refresh),
        "access_token_expires_at": _iso(status.access_token_expires_at),
        "refresh_due": status.refresh_due,
        "api_key": status.masked_api_key,
        "warnings": list(status.warnings),
    }


def _say_details(status: Status) -> None:
    for label, value in _status_document(status).items():
        if label not in ("logged_in", "mode", "warnings"):  # warnings have their own lines
            _say_field(label, value)


def _say_field(label: str, value: object) -> None:
    """One indented ``label: value`` line of -v output; nothing for a missing value."""
    if isinstance(value, bool):
        _say(f"  {label}: {'yes' if value else 'no'}")
    elif value is not None:
        _say(f"  {label}: {value}")


def _token(service: AuthService, args: argparse.Namespace) -> int:
    broker = args.broker or os.environ.get("CODEX_LOGIN_BROKER")
    current = _token_from_broker(broker) if broker else _token_from_store(service)
    if args.json:
        document = {
            "token": current.token,
            "kind": current.mode.value,
            "expires_at": _iso(current.expires_at),
            "account_id": current.account_id,
        }
        _emit(json.dumps(document, indent=2))
    else:
        _emit(current.token)
    return EXIT_OK


def _token_from_store(service: AuthService) -> AccessToken:
    fresh = service.manager.fresh()  # the hot path: one stat, one clock read, no event loop
    if fresh is not None:
        return fresh
    import asyncio  # noqa: PLC0415  (only a refresh needs an event loop)

    try:
        return asyncio.run(service.auth())
    except KeyboardInterrupt:
        # The refresh goes on to its commit; say so when it saved new tokens.
        if service.manager.commits:
            _say("Interrupted, but the refreshed tokens were saved; run the command again.")
        raise


def _token_from_broker(address: str) -> AccessToken:
    """A sandbox's token: asked of the broker, which keeps the login (no store is read)."""
    return broker_client(address, os.environ).fetch()


def _export(service: AuthService, args: argparse.Namespace) -> int:
    from codex_login.adapters import auth_json  # noqa: PLC0415
    from codex_login.application.transfer import export_login  # noqa: PLC0415

    if sys.stdout.isatty() and not args.force:
        raise UsageError(
            "export writes a live credential; pipe it (codex-login export --move | "
            "CODEX_LOGIN_STORE=redis codex-login import) or pass --force to print it here"
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
        raise UsageError("import reads a login from stdin: codex-login export --move | ...")
    data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise UsageError("stdin holds more than 1 MiB; it cannot be a login")
    loaded = auth_json.decode(data, "the login on stdin")
    for warning in loaded.warnings:
        _say(f"Warning: {warning}")
    changed = import_login(store=service.store, record=loaded.record, replace=args.force)
    where = service.store.location
    _say(f"Imported the login into {where}" if changed else f"{where} already holds this login")
    return EXIT_OK


def _serve(service: AuthService, args: argparse.Namespace) -> int:
    from codex_login.entrypoints.serve import serve  # noqa: PLC0415  (loads aiohttp)

    serve(
        service,
        socket_path=args.socket or codex_home_from(os.environ, args.codex_home) / "broker.sock",
        tcp_port=args.tcp,
        secret_file=args.secret_file,
        allow_uids=args.allow_uid,
        allow_gids=args.allow_gid,
        say=_say,
    )
    return EXIT_OK


def _logout(service: AuthService, args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    secrets = _stored_secrets(service)  # now: the logout deletes the record
    result = asyncio.run(service.logout(revoke=not args.local))
    if result.revoke_error:
        warning = f"Warning: could not revoke the login at the issuer: {result.revoke_error}"
        _say(scrub(warning, secrets))
    _say("Successfully logged out" if result.removed else "Not logged in")
    return EXIT_OK


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _stored_secrets(service: AuthService | None) -> list[str]:
    """The secrets a message must not show: the stored record's, best effort, and the env key."""
    if service is None:
        return []
    secrets = [service.env_api_key or ""]
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
    """Say a message that may quote the issuer or a stored field, without the secrets."""
    _say(scrub(message, _stored_secrets(service)))


def _emit(data: str) -> None:
    """Data to stdout, flushed now: a closed pipe then stops us before any more is said."""
    try:
        print(data, flush=True)
    except BrokenPipeError as exc:  # only here: a broken pipe elsewhere is no reader gone
        raise StdoutClosed from exc


def _say(message: str) -> None:
    print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
