"""The CLI's help formatters lay out help as argparse's own, measuring only to lay it out."""

from __future__ import annotations

import argparse
import shutil

import pytest

from codex_login.entrypoints.cli import formatting
from codex_login.entrypoints.cli import parser as parsing


def every_help(parser: argparse.ArgumentParser, commands: parsing.Commands) -> list[str]:
    return [parser.format_help()] + [command.format_help() for command in commands.values()]


@pytest.mark.parametrize("columns", ["40", "80", "123", None, "0", "wide"])
def test_help_is_laid_out_as_argparse_lays_it_out(
    monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    ours = every_help(*parsing.build())
    monkeypatch.setattr(parsing, "HelpFormatter", argparse.RawDescriptionHelpFormatter)
    monkeypatch.setattr(formatting, "SizedHelpFormatter", argparse.HelpFormatter)
    assert ours == every_help(*parsing.build())


def test_the_width_is_measured_when_help_is_laid_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    formatter = formatting.SizedHelpFormatter("codex-login")  # wraps text to its width
    monkeypatch.setenv("COLUMNS", "200")
    formatter.add_text("word " * 30)
    assert max(len(line) for line in formatter.format_help().splitlines()) > 100


def test_building_the_parser_measures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def measured() -> None:
        raise AssertionError("the terminal was measured")

    monkeypatch.setattr(shutil, "get_terminal_size", measured)
    parsing.build()
