"""The CLI's help formatter sizes help as argparse's own does, without loading shutil."""

from __future__ import annotations

import argparse
import io
import os
import sys

import pytest

from codex_login.entrypoints import cli


def every_help(
    parser: argparse.ArgumentParser, commands: dict[str, argparse.ArgumentParser]
) -> list[str]:
    return [parser.format_help()] + [command.format_help() for command in commands.values()]


@pytest.mark.parametrize("columns", ["40", "80", "123", None, "0", "wide"])
def test_help_is_laid_out_as_argparse_lays_it_out(
    monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    ours = every_help(*cli._parser())
    monkeypatch.setattr(cli, "HelpFormatter", argparse.RawDescriptionHelpFormatter)
    monkeypatch.setattr(cli, "SizedHelpFormatter", argparse.HelpFormatter)
    assert ours == every_help(*cli._parser())


def test_without_columns_or_a_terminal_help_is_80_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "__stdout__", io.StringIO())  # no file descriptor
    assert cli.terminal_columns() == 80
    monkeypatch.setattr(sys, "__stdout__", None)  # pythonw, or stdout closed at start
    assert cli.terminal_columns() == 80


def test_the_terminal_gives_the_width_when_columns_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((132, 43)))
    assert cli.terminal_columns() == 132
