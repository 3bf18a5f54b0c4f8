"""The docs site's generated pages say what the code says: every command's help, every
declared setting, every error with its outcome (docs/hooks.py, run by mkdocs)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import attrs

from codex_login.domain import errors
from codex_login.domain.outcomes import OUTCOMES, outcome_of
from codex_login.entrypoints.proxy.observer import ProxyObserver
from codex_login.entrypoints.settings import Settings
from support.cli import CLI, clean_env

ROOT = Path(__file__).resolve().parents[3]


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_generated_page_has_its_marker_and_no_marker_is_unknown() -> None:
    hooks = load_hooks()
    markers = [
        match.group(1)
        for page in sorted((ROOT / "docs").rglob("*.md"))
        for match in hooks.MARKER.finditer(page.read_text())
    ]
    assert sorted(markers) == sorted(hooks.GENERATORS)


def test_the_cli_page_holds_every_commands_help() -> None:
    top = subprocess.run(
        [str(CLI), "--help"], env=clean_env(), capture_output=True, text=True, check=True
    ).stdout
    page = load_hooks().on_page_markdown("<!-- generated: cli -->")
    for command in ("login", "status", "token", "serve", "logout", "switch", "demo"):
        assert command in top
        assert f"### `codex-login {command}`" in page
        assert f"usage: codex-login {command}" in page
    assert "<!-- generated" not in page


def test_the_environment_page_lists_every_declared_variable() -> None:
    page = load_hooks().on_page_markdown("<!-- generated: environment -->")
    for field in attrs.fields(Settings):
        variable = field.metadata["variable"]
        assert f"| `{variable.label or variable.name}` |" in page


def test_the_exceptions_page_gives_each_error_its_exit_code_and_broker_answer() -> None:
    page = load_hooks().on_page_markdown("<!-- generated: errors -->")
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines()[2:]}
    for kind in (errors.SessionEnded, errors.LockTimeout, errors.UntrustedPath):
        outcome = outcome_of(kind("x"))
        assert (
            f"| {outcome.exit_code} | {outcome.http_status} `{outcome.error_code}` |"
            in (rows[kind.__name__])
        )
    assert "a person must sign in" in rows["SessionEnded"]
    assert "try again later" in rows["LockTimeout"]
    assert "fix the set-up" in rows["UntrustedPath"]
    assert set(rows) >= {name for name in dir(errors) if name.endswith(("Error", "Required"))}


def test_the_json_page_lists_each_error_code_and_holds_each_schema() -> None:
    """docs/json.md (issue 26): the codes from the one table, the schemas as shipped."""
    page = (ROOT / "docs" / "json.md").read_text()
    built = load_hooks().on_page_markdown(page)
    for kind in (errors.NotLoggedIn, errors.LockTimeout, errors.StorageError):
        outcome = outcome_of(kind("x"))
        assert f"| `{outcome.code}` | {outcome.exit_code} | `{outcome.error_code}` |" in built
    for name in ("token", "status", "accounts", "error", "exec-credential"):
        assert f"### `{name}.schema.json`" in built
    assert '"$schema": "https://json-schema.org/draft/2020-12/schema"' in built
    assert "<!-- generated" not in built


def test_the_broker_page_names_every_sign_in_answer_and_observer_call() -> None:
    """A client or a metrics collector written from docs/broker.md misses no case."""
    page = " ".join((ROOT / "docs" / "broker.md").read_text().split())
    sign_in = page.split("- A person must sign in: 401 with `error` one of", 1)[1]
    sign_in = sign_in.split(";", 1)[0]
    for outcome in OUTCOMES.values():
        if outcome.http_status == 401:
            assert f"`{outcome.error_code}`" in sign_in
    calls = [name for name in vars(ProxyObserver) if not name.startswith("_")]
    assert calls
    for name in calls:
        assert f"`{name}(" in page
