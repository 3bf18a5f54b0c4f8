"""``codex-login demo``: the whole life of a login, against a fake issuer."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.errors import CodexLoginError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.printable import printable
from codex_login.entrypoints.cli.errors import EXIT_FAILURE, EXIT_OK, causes
from codex_login.entrypoints.cli.formatting import port
from codex_login.entrypoints.cli.shared import epilog

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

ABOUT = """\
Watch the whole life of a login, against a fake issuer started on a free
loopback port, in a temporary CODEX_HOME removed at the end: your own
credentials are never read or changed. It signs in through the real callback
server (in your browser when there is a graphical one, else over HTTP by
itself), shows status, lets a short-lived access token expire and refreshes it,
runs 8 `codex-login token` processes at once (one refresh), and logs out
(one revoke). Each step is a line or two with its time; it takes a few seconds."""
EPILOG = epilog(
    """\
  codex-login demo
  codex-login demo --no-browser --json | jq '.steps[] | {step, ok, seconds}'
""",
    "  CODEX_HOME                 not used: the demo's login lives in a temporary one\n",
    "  TMPDIR                     where the temporary CODEX_HOME is made\n",
    "  BROWSER, DISPLAY           the browser to open (on Linux, DISPLAY is needed)\n",
)


# Why --codex-home is refused (dispatch) and left out of the help (parser).
NO_CODEX_HOME = "the demo's login lives in a temporary CODEX_HOME, removed at the end"


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    json: bool = False
    no_browser: bool = False
    port: int = 0
    verbose: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the steps as JSON on stdout")
    parser.add_argument(
        "--no-browser", action="store_true", help="sign in over HTTP even when a browser could"
    )
    parser.add_argument(
        "--port", type=port, default=0, metavar="N", help="callback port (default 0: any free)"
    )


def options(args: argparse.Namespace) -> Options:
    return Options(json=args.json, no_browser=args.no_browser, port=args.port, verbose=args.verbose)


def run(options: Options, io: IO, factory: Factory) -> int:
    """Run the demo; the user's own store is never opened."""
    del factory
    # The demo runs on the testing kit's fake issuer. The kit sits above the
    # entrypoints (it builds on them), so this one import is a declared exception
    # in the import-linter contract (pyproject.toml); it loads only for `demo`.
    from codex_login.testing import demo  # noqa: PLC0415

    try:
        demo.run(
            json_output=options.json,
            port=options.port,
            use_browser=not options.no_browser,
            say=io.say,
            emit=io.emit,
            verbose=options.verbose,
        )
    except CodexLoginError as exc:
        # Said here, not by main(): its scrubbing would read the user's own store.
        io.say(printable(f"Error: {exc}"))
        if options.verbose:
            for cause in causes(exc):
                io.say(printable(f"  caused by {type(cause).__name__}: {cause}"))
        return EXIT_FAILURE
    return EXIT_OK
