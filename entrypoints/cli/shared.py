"""What the commands' modules share that needs no argparse to load: the ``--account``
option, the refusal of ``--codex-home`` where it means nothing, and the layout of an
epilog. ``status`` and ``token`` given alone run without argparse (``dispatch``), so
their modules must load without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login.entrypoints.cli.errors import UsageError

if TYPE_CHECKING:
    import argparse


def account_option(parser: argparse.ArgumentParser) -> None:
    """``--account NAME``: the commands that can act on one stored login without a switch."""
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="act on this stored login (name, email or workspace id) without switching",
    )


def refuse_codex_home(args: argparse.Namespace, why: str) -> None:
    """A command that reads no stored login says so rather than ignore ``--codex-home``
    (its module's ``NO_CODEX_HOME`` is ``why``, and keeps the option out of its help)."""
    if getattr(args, "codex_home", None) is not None:
        raise UsageError(f"--codex-home is not for this command: {why}; leave it out")


def epilog(examples: str, *environment: str, exit_status: str = "") -> str:
    """The end of a command's --help: examples, then the environment it reads."""
    text = f"examples:\n{examples}\nenvironment:\n{''.join(environment)}"
    return f"{text}\nexit status:\n{exit_status}" if exit_status else text
