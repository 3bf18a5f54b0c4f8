"""``codex-login doctor``: why a login works or not, one line per check, read-only."""

from __future__ import annotations

import argparse
import codecs
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints import settings
from codex_login.entrypoints.cli.errors import EXIT_FAILURE, EXIT_OK
from codex_login.entrypoints.cli.shared import epilog
from codex_login.entrypoints.settings import environment_help

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory
    from codex_login.entrypoints.doctor_checks import Check

ABOUT = """\
Check why a login works or not: which store the Codex CLI and codex-login
use for this CODEX_HOME, what each store holds and whether they disagree,
the credentials in the environment and which wins, the login's issuer, the
login policy's verdict, the access token's expiry and the clock, file modes
and owners, leftover .auth-* temp files, locks held and by whom, and whether
a configured broker answers. One line per check, with what to do beside each
failure. It changes nothing: no file is written, no token refreshed; the
network is used only with --online (is the issuer's metadata reachable)."""
EPILOG = epilog(
    """\
  codex-login doctor
  codex-login doctor --online --codex-home /srv/codex
  codex-login doctor --json | jq -r '.checks[] | select(.ok | not) | .fix'
""",
    environment_help(settings.STORE, settings.POLICY),
    environment_help(settings.API_KEY),
    environment_help(settings.BROKER),
    exit_status="  0 every check passed; 1 something is wrong\n",
)

MARKS = {True: "✓", False: "✗"}
ASCII_MARKS = {True: "ok", False: "FAIL"}


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    online: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON on stdout")
    parser.add_argument(
        "--online", action="store_true", help="also check that the issuer's metadata is reachable"
    )


def options(args: argparse.Namespace) -> Options:
    return Options(json=args.json, online=args.online)


def run(options: Options, io: IO, factory: Factory) -> int:
    from codex_login.entrypoints.diagnosis import diagnose  # noqa: PLC0415

    checks = diagnose(factory.settings.with_home(factory.codex_home), online=options.online)
    healthy = all(check.ok for check in checks)
    if options.json:
        _emit_document(io, checks, healthy)
    else:
        marks = MARKS if _can_print(io, "".join(MARKS.values())) else ASCII_MARKS
        for check in checks:
            io.emit(_line(check, marks))
    return EXIT_OK if healthy else EXIT_FAILURE


def _line(check: Check, marks: dict[bool, str]) -> str:
    line = f"{marks[check.ok]} {check.name}: {check.said}"
    if not check.ok and check.fix:
        line += f"\n    fix: {check.fix}"
    return line


def _can_print(io: IO, text: str) -> bool:
    """Whether stdout's encoding can print ``text`` (a C locale's ASCII cannot)."""
    encoding = getattr(io.stdout, "encoding", None) or "ascii"
    try:
        codecs.encode(text, encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _emit_document(io: IO, checks: list[Check], healthy: bool) -> None:
    from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: it loads cattrs)

    document = documents.DoctorDocument(
        checks=[
            documents.DoctorCheckDocument(check.name, check.ok, check.said, check.fix)
            for check in checks
        ],
        ok=healthy,
    )
    io.emit(documents.dumps(document))
