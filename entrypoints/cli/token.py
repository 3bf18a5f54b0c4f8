"""``codex-login token``: the bearer credential on stdout, refreshed first when due."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.errors import StorageError, TokensUnsaved
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.printable import printable
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_OK, Interrupted, UsageError
from codex_login.entrypoints.cli.interrupts import ctrl_c_raises, stop_workers
from codex_login.entrypoints.cli.shared import REFRESHING_REMEDIES, account_option, epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Coroutine
    from typing import Any

    from codex_login.application.service import AuthService
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.tokens import AccessToken
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

EXIT_BY_OUTCOME = True  # 4: a person must log in; 1: anything a retry may cure
# How long a command keeps trying to save tokens the store refused before it ends (and
# loses them): a store that is back within it saves them.
SAVE_PATIENCE = 30.0
SAVE_PAUSE = 0.5
REMEDIES = REFRESHING_REMEDIES

ABOUT = """\
Print the bearer credential of the current login on stdout, and nothing else:
the API key, or the ChatGPT access token, refreshed first when it is due (within
5 minutes of its expiry, or half its lifetime when that is shorter). --json adds
its mode, expiry and account id, and the
model API to call with it: base_url and headers (every header to send).
--format exec-credential prints a Kubernetes ExecCredential instead, for a
kubeconfig's exec credential plugin. --broker asks a running token broker
(codex-login serve) instead of reading a store. This is what scripts call, and
what the Codex CLI's provider auth.command can run."""
EXIT_STATUS = """\
  0 printed; 4 a person must log in (nothing is stored, the session ended, or
  the stored login is unusable or refused by the policy); 1 any other failure:
  network, issuer, store or broker trouble a retry may cure, or a setting or
  file a person must fix (the message names it)
"""
EPILOG = epilog(
    """\
  curl https://api.openai.com/v1/models \\
    -H "Authorization: Bearer $(codex-login token)"
  codex-login token --json
  codex-login token --format exec-credential
  codex-login token --broker ~/.codex/broker.sock
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.API_KEY),
    environment_help(settings.WORKLOAD_IDENTITY),
    environment_help(settings.BROKER),
    environment_help(settings.ISSUER),
    environment_help(settings.NETWORK),
    environment_help(settings.MODEL_API),
    exit_status=EXIT_STATUS,
)


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    broker: str | None = None
    account: str | None = None
    format: str | None = None  # "exec-credential"


EXEC_CREDENTIAL = "exec-credential"


# `codex-login token` given alone: the dispatch runs it with these, without argparse.
ALONE = Options()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="add its mode, expiry, base_url and headers, as JSON",
    )
    parser.add_argument(
        "--format",
        choices=[EXEC_CREDENTIAL],
        help="print it as a Kubernetes ExecCredential (client.authentication.k8s.io/v1)",
    )
    parser.add_argument(
        "--broker",
        metavar="PATH|URL",
        help="ask this token broker instead of reading a store (default: $CODEX_LOGIN_BROKER)",
    )
    account_option(parser)


def options(args: argparse.Namespace) -> Options:
    if args.format and args.json:
        raise UsageError("--format and --json print different documents: choose one")
    return Options(json=args.json, broker=args.broker, account=args.account, format=args.format)


def run(options: Options, io: IO, factory: Factory) -> int:
    broker = factory.broker_address(options.broker)
    if broker:
        current, api = factory.answer_from_broker(broker)
    else:
        service = factory.service(account=options.account)
        current = from_store(service, io.say)
        if not options.json:  # the bearer alone: an access token's whoami is not asked
            print_bearer(io, options, current, factory)
            return EXIT_OK
        current = service.identified(current)  # an access token's workspace (whoami)
        api = service.model_api_of(current)
    if not options.json:
        print_bearer(io, options, current, factory)
    else:
        print_token(io, current, api, json=True)
    return EXIT_OK


def print_bearer(io: IO, options: Options, current: AccessToken, factory: Factory) -> None:
    """The bearer alone: as it is, or in an ExecCredential (--format exec-credential)."""
    if options.format == EXEC_CREDENTIAL:
        print_exec_credential(io, current, factory.settings.kubernetes_exec_info)
    else:
        print_token(io, current, None, json=False)


def print_exec_credential(io: IO, current: AccessToken, exec_info: str | None) -> None:
    """The exec plugin's answer, in the apiVersion kubectl asked for (KUBERNETES_EXEC_INFO)."""
    from codex_login.entrypoints import documents  # noqa: PLC0415  (it loads cattrs)

    api = documents.exec_credential_api(exec_info)
    io.emit(documents.dumps(documents.ExecCredentialDocument.of(current, api)))


def print_token(io: IO, current: AccessToken, api: ModelApi | None, *, json: bool) -> None:
    if json and api is not None:
        from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

        io.emit(documents.dumps(documents.TokenDocument.of(current, api)))
    else:
        io.emit(printable(current.token))


def from_store(service: AuthService, say: Callable[[str], None]) -> AccessToken:
    fresh = service.fresh()  # the hot path: one stat, one clock read, no event loop
    if fresh is not None:
        return fresh
    return refreshing(service, service.auth, say)


def refreshing(
    service: AuthService,
    refresh: Callable[[], Coroutine[Any, Any, AccessToken]],
    say: Callable[[str], None],
) -> AccessToken:
    """Run ``refresh`` to its end; Ctrl-C says whether new tokens were saved meanwhile."""
    before = service.store.fingerprint()
    try:
        with ctrl_c_raises():
            return _until_saved(refresh, say)
    except KeyboardInterrupt as exc:
        # A refresh still waiting for the lock gives up; one that holds it goes on to its
        # commit on its worker thread: wait for it, then say so when it saved new tokens.
        from codex_login.entrypoints.cli.output import saved_since  # noqa: PLC0415

        stop_workers()
        if saved_since(service, before):
            raise Interrupted(
                "Interrupted, but the refreshed tokens were saved; run the command again."
            ) from exc
        raise


def _until_saved(
    refresh: Callable[[], Coroutine[Any, Any, AccessToken]], say: Callable[[str], None]
) -> AccessToken:
    """``refresh``'s token; when the issuer's new tokens could not be saved, the save is
    tried again for up to ``SAVE_PATIENCE``: they exist only in this process, which would
    end with them. A later run saves the kept tokens first; until the store answers
    again, its read or its lock fails too (a ``StorageError``), which is waited out."""
    import asyncio  # noqa: PLC0415  (only a refresh needs an event loop)

    deadline, unsaved = 0.0, None  # the first TokensUnsaved, once tokens are kept
    while True:
        try:
            return asyncio.run(refresh())
        except StorageError as exc:
            if unsaved is None and isinstance(exc, TokensUnsaved):
                deadline, unsaved = time.monotonic() + SAVE_PATIENCE, exc
                say(
                    printable(
                        f"{exc}; trying to save them for up to {SAVE_PATIENCE:g} s "
                        "(Ctrl-C gives up, and they are lost)"
                    )
                )
            if unsaved is None:
                raise
            if time.monotonic() >= deadline:  # said as what it is: tokens lost, not a read
                raise unsaved from exc
        time.sleep(SAVE_PAUSE)  # each try has the core's own retries; a pause between
