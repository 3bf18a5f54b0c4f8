"""``codex-login serve``: a token broker for sandboxes and containers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.formatting import port
from codex_login.entrypoints.cli.shared import epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
Run a token broker: hand out access tokens to sandboxes and containers over a
Unix socket (and optionally loopback TCP), refreshing the login when due; they
never see the refresh token. The socket serves only your user unless
--allow-uid or --allow-gid; TCP clients must send the secret in --secret-file,
or their own key from --client-keys, as a bearer token. GET /metrics answers in
the Prometheus text format (the metrics extra). SIGTERM or Ctrl-C stops it
cleanly."""
EPILOG = epilog(
    """\
  codex-login serve
  codex-login token --broker ~/.codex/broker.sock   # in the sandbox
  (umask 077; head -c 32 /dev/urandom | base64 > ~/.codex/broker.secret)
  codex-login serve --tcp 8765 --secret-file ~/.codex/broker.secret
  (umask 077; echo "ci $(head -c 32 /dev/urandom | base64)" >> ~/.codex/clients)
  codex-login serve --tcp 8765 --client-keys ~/.codex/clients
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.API_KEY),
    environment_help(settings.ISSUER),
    environment_help(settings.NETWORK),
    environment_help(settings.SERVE),
    environment_help(settings.MODEL_API),  # what /v1/token says: base_url and headers
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    socket: Path | None = None
    tcp: int | None = None
    secret_file: Path | None = None
    client_keys: Path | None = None
    allow_uids: tuple[int, ...] = ()
    allow_gids: tuple[int, ...] = ()
    upstream: str | None = None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket", type=Path, metavar="PATH", help="Unix socket (default $CODEX_HOME/broker.sock)"
    )
    parser.add_argument(
        "--tcp",
        type=port,
        metavar="PORT",
        help="also listen on 127.0.0.1:PORT (needs --secret-file or --client-keys)",
    )
    parser.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help="the secret TCP clients send as a bearer token (a file only you can read)",
    )
    parser.add_argument(
        "--client-keys",
        type=Path,
        metavar="FILE",
        help="one 'NAME KEY' per line: each TCP client's own bearer key, revocable "
        "(a file only you can read; read again when it changes)",
    )
    parser.add_argument(
        "--allow-uid",
        type=int,
        action="append",
        default=[],
        metavar="UID",
        help="also serve this user on the socket (repeatable; default: only yours)",
    )
    parser.add_argument(
        "--allow-gid",
        type=int,
        action="append",
        default=[],
        metavar="GID",
        help="also serve users in this group (user and group databases) on the socket (repeatable)",
    )
    _configure_proxy(parser)


def _configure_proxy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="where /openai/v1/ is forwarded (default: the login's model API; https, "
        "or plain http to loopback only)",
    )


def options(args: argparse.Namespace) -> Options:
    return Options(
        socket=args.socket,
        tcp=args.tcp,
        secret_file=args.secret_file,
        client_keys=args.client_keys,
        allow_uids=tuple(args.allow_uid),
        allow_gids=tuple(args.allow_gid),
        upstream=args.upstream,
    )


def run(options: Options, io: IO, factory: Factory) -> int:
    from codex_login.entrypoints.serve import serve  # noqa: PLC0415  (loads aiohttp)

    serve(
        factory.service(),
        socket_path=options.socket or factory.home() / "broker.sock",
        tcp_port=options.tcp,
        secret_file=options.secret_file,
        client_keys=options.client_keys,
        allow_uids=list(options.allow_uids),
        allow_gids=list(options.allow_gids),
        say=io.say,
        settings=factory.settings,
        upstream=options.upstream,
    )
    return EXIT_OK
