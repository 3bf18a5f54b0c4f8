"""mkdocs hook: the pages that must not drift from the code are written at build time.

A page holds a marker line, ``<!-- generated: NAME -->``, replaced when the site builds:

- ``cli``: every command's ``--help``, from the installed ``codex-login`` console script
  run in a child process (the commands are listed by the top-level help, so a new
  command appears without touching the docs);
- ``environment``: every variable declared in
  ``codex_login.entrypoints.settings.Settings``, with its help text and section;
- ``errors``: the error tree of ``codex_login.domain.errors`` with each class's group,
  ``token``'s exit code and the broker's answer, from ``codex_login.domain.outcomes``;
- ``json_errors``: the codes of the ``--json`` error document, from the same table;
- ``json_schemas``: the JSON Schemas the package ships (``entrypoints/schemas``).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs

from codex_login.domain import errors
from codex_login.domain.outcomes import OUTCOMES, row_of
from codex_login.entrypoints.settings import Settings

MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.MULTILINE)
# A command's line in the top-level help: an indent, the name, two or more spaces, its text.
COMMAND_LINE = re.compile(r"^ {2,}([a-z][a-z-]*) {2,}\S", re.MULTILINE)
HELP_WIDTH = "100"


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs' hook: replace each marker with what it names."""
    return MARKER.sub(lambda match: GENERATORS[match.group(1)](), markdown)


# -- the command line -------------------------------------------------------------------


def console_script() -> str:
    """The installed codex-login beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("codex-login")
    if beside.exists():
        return str(beside)
    found = shutil.which("codex-login")
    if found is None:
        raise SystemExit("docs: the codex-login console script is not installed")
    return found


def help_text(*args: str) -> str:
    """What ``codex-login ARGS`` prints, at a fixed width, without the caller's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_")}
    env["COLUMNS"] = HELP_WIDTH
    result = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [console_script(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return result.stdout.rstrip()


def commands() -> list[str]:
    """The commands, in the order the top-level help lists them."""
    found = COMMAND_LINE.findall(help_text("--help").split("options:")[0])
    if not found:
        raise SystemExit("docs: `codex-login --help` lists no command the hook can read")
    return found


def cli_page() -> str:
    parts = ["```text", help_text("--help"), "```"]
    for command in commands():
        parts += ["", f"### `codex-login {command}`", "", "```text"]
        parts += [help_text(command, "--help")]
        parts += ["```"]
    return "\n".join(parts)


# -- the environment --------------------------------------------------------------------


def environment_page() -> str:
    rows = ["| variable | what it is | listed under |", "| --- | --- | --- |"]
    for field in attrs.fields(Settings):
        variable = field.metadata.get("variable")
        if variable is None:
            continue
        label = variable.label or variable.name
        text = " ".join(variable.help.split())
        section = variable.section or "(said by another variable, not listed)"
        rows.append(f"| `{label}` | {escape(text)} | {section} |")
    return "\n".join(rows)


# -- the errors -------------------------------------------------------------------------

GROUPS = (
    ("SignInRequired", "a person must sign in"),
    ("TryAgain", "try again later"),
    ("ConfigurationError", "fix the set-up"),
)


def error_classes() -> list[type[errors.CodexLoginError]]:
    base = errors.CodexLoginError
    found = [
        kind
        for _, kind in inspect.getmembers(errors, inspect.isclass)
        if issubclass(kind, base) and kind.__module__ == errors.__name__
    ]
    return sorted(found, key=lambda kind: inspect.getsourcelines(kind)[1])


def group_of(kind: type[Exception]) -> str:
    names = {cls.__name__ for cls in kind.__mro__}
    groups = [text for name, text in GROUPS if name in names]
    return ", ".join(groups) or "other: a failure to report"


def parent_of(kind: type[Exception], known: list[type[errors.CodexLoginError]]) -> str:
    parents = [base.__name__ for base in kind.__bases__ if base in known]
    return ", ".join(parents) or "Exception"


def errors_page() -> str:
    known = error_classes()
    rows = [
        "| class | subclass of | group | `token` exits | broker answers | what it means |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in known:
        outcome = OUTCOMES[row_of(kind)]
        doc = " ".join((kind.__doc__ or "").strip().split("\n\n")[0].split())
        rows.append(
            f"| `{kind.__name__}` | {parent_of(kind, known)} | {group_of(kind)} "
            f"| {outcome.exit_code} | {outcome.http_status} `{outcome.error_code}` "
            f"| {escape(doc)} |"
        )
    return "\n".join(rows)


def escape(text: str) -> str:
    """Text fit for a Markdown table cell."""
    return text.replace("|", "\\|")


# -- the JSON contract ------------------------------------------------------------------

SCHEMAS = ("token", "status", "accounts", "doctor", "error", "exec-credential")


def json_errors_page() -> str:
    """One row per code of the error document: its exit codes, the broker's code, the
    error classes that carry it."""
    by_code: dict[str, list[type[errors.CodexLoginError]]] = {}
    for kind in error_classes():
        by_code.setdefault(OUTCOMES[row_of(kind)].code, []).append(kind)
    rows = [
        "| `code` | `token`, `refresh` exit | broker's `error` | raised as |",
        "| --- | --- | --- | --- |",
    ]
    for code, kinds in by_code.items():
        outcome = OUTCOMES[row_of(kinds[0])]
        names = ", ".join(f"`{kind.__name__}`" for kind in kinds)
        rows.append(f"| `{code}` | {outcome.exit_code} | `{outcome.error_code}` | {names} |")
    return "\n".join(rows)


def json_schemas_page() -> str:
    """Each schema as the package ships it, under a heading of its own."""
    sections = []
    for name in SCHEMAS:
        text = (files("codex_login.entrypoints") / "schemas" / f"{name}.schema.json").read_text()
        title = json.loads(text)["title"]
        sections.append(f"### `{name}.schema.json`\n\n{title}.\n\n```json\n{text.strip()}\n```")
    return "\n\n".join(sections)


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_page,
    "environment": environment_page,
    "errors": errors_page,
    "json_errors": json_errors_page,
    "json_schemas": json_schemas_page,
}
