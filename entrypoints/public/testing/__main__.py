"""``python -m codex_login.testing``: a fake issuer and a fake Codex backend on this
machine, with a CODEX_HOME signed in at them, until Ctrl-C (or SIGTERM).

It prints where they listen and the ``export`` lines that point a shell at them, then
waits. Nothing of the user's own login is read or written: the home is a new
temporary directory (removed at the end) unless ``--home`` names a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from codex_login.domain.errors import CodexLoginError
from codex_login.testing.session import SignedIn, signed_in

PROG = "python -m codex_login.testing"
_STOP = {signal.SIGINT, signal.SIGTERM}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a fake OAuth issuer and a fake Codex backend on 127.0.0.1, with "
        "a CODEX_HOME signed in at them, until Ctrl-C.",
    )
    parser.add_argument(
        "--home",
        help="the CODEX_HOME to sign in: created if missing, must hold no auth.json or "
        "config.toml (default: a temporary directory, removed at the end)",
    )
    options = parser.parse_args(argv)
    try:
        _serve_until_stopped(options.home)
    except (OSError, CodexLoginError) as exc:  # a home in use, or one the store refuses
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    sys.stderr.write(f"{PROG}: stopped\n")
    return 0


def _serve_until_stopped(home: str | None) -> None:
    if sys.platform == "win32":  # no signal masks: Ctrl-C interrupts the wait
        with signed_in(home) as session:
            sys.stdout.write(announcement(session))
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    else:
        # Blocked before the servers' threads start, so they inherit the mask and only
        # sigwait below sees Ctrl-C or SIGTERM: the servers stop in order, no traceback.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
        try:
            with signed_in(home) as session:
                sys.stdout.write(announcement(session))
                sys.stdout.flush()
                signal.sigwait(_STOP)
        finally:
            # A second Ctrl-C during the teardown has nothing left to stop: discarded
            # (sigpending, not sigtimedwait, which macOS lacks).
            while _STOP & signal.sigpending():
                signal.sigwait(_STOP)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)


def announcement(session: SignedIn) -> str:
    """What the command prints once both servers listen."""
    backend = session.backend
    return (
        f"# fake issuer:  {session.issuer.url}\n"
        f"# fake backend: {backend.url} (a ChatGPT login's model API: /responses, /models;\n"
        f"#               an API key's: {backend.api_url})\n"
        f"# {session.home} holds a ChatGPT login at the fake issuer, and its config.toml\n"
        f"# sets openai_base_url to the fake backend. In another shell:\n"
        f"{session.exports()}"
        "# Ctrl-C stops both servers.\n"
    )


if __name__ == "__main__":
    sys.exit(main())
