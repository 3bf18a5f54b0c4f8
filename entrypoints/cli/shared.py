"""What the commands' modules share that needs no argparse to load: the ``--account``
option, the layout of an epilog, the way to move a login. ``status`` and ``token``
given alone run without argparse (``dispatch``), so their modules must load without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login.domain.errors import TokensUnsaved

if TYPE_CHECKING:
    import argparse

# The remedies of a command that refreshes and then ends: tokens only in its memory go
# with it (a long-lived process, the broker, saves them at its next refresh).
REFRESHING_REMEDIES = {
    TokensUnsaved: (
        "this command ends here and the new tokens with it: once the store works, "
        "run `codex-login login`"
    ),
}


# Removed here only once stored there: `&&` runs logout only after an import that succeeded.
HAND_OVER = (
    "codex-login export | CODEX_LOGIN_STORE=redis codex-login import && codex-login logout --local"
)

# The metavar of an argument that takes a stored login's name: the completion scripts
# offer the names `accounts --names` prints there.
ACCOUNT_NAME = "NAME"


def account_option(parser: argparse.ArgumentParser) -> None:
    """``--account NAME``: the commands that can act on one stored login without a switch."""
    parser.add_argument(
        "--account",
        metavar=ACCOUNT_NAME,
        help="act on this stored login (name, email or workspace id) without switching",
    )


def epilog(examples: str, *environment: str, exit_status: str = "") -> str:
    """The end of a command's --help: examples, then the environment it reads."""
    text = f"examples:\n{examples}\nenvironment:\n{''.join(environment)}"
    return f"{text}\nexit status:\n{exit_status}" if exit_status else text
