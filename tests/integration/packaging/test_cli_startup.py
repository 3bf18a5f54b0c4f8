"""What `status` and `token` load and do before they start: start-up cost is a feature.

Each command runs in a child as the installed console script runs it (its entry point,
found in the package's metadata). bench/cli_startup.py measures the time; these tests
pin what it depends on, so that a module added to the hot path is a decision, not an
accident.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from support.cli import clean_env
from support.records import chatgpt_document

[SCRIPT] = entry_points(group="console_scripts", name="codex-login")
API_KEY_FILE = '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456789"\n}'

# The entry point in a child (named by the parent: importlib.metadata would load more
# modules than the command does), stdout kept out of the way; on stderr, one JSON
# document: the exit code, the modules loaded, and whether a garbage collection ran
# while the command's modules loaded (before they were frozen).
_RUN = """
import contextlib, gc, io, json, sys

module, _, function = sys.argv.pop(1).partition(":")
entry = getattr(__import__(module, fromlist=[function]), function)
while_loading = []

def collection(phase, info):
    if phase == "start" and gc.get_freeze_count() == 0:
        while_loading.append(info["generation"])

gc.collect()
gc.callbacks.append(collection)
sys.argv = ["codex-login", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    code = entry()
gc.callbacks.remove(collection)
print(json.dumps({
    "code": code,
    "modules": sorted(sys.modules),
    "collections_while_loading": while_loading,
    "frozen": gc.get_freeze_count(),
}), file=sys.stderr)
"""

# The product's modules `status` and `token` both load, then each its own. Adding one
# here costs every `token` a few hundred microseconds or more: load it where it is used
# when only a rarer path needs it (python -X importtime shows what a module costs).
BOTH = {
    "codex_login",
    "codex_login._lazy",
    "codex_login.adapters",
    "codex_login.adapters.account_shelf",
    "codex_login.adapters.auth_json",
    "codex_login.adapters.clock",
    "codex_login.adapters.codex_config",
    "codex_login.adapters.file_store",
    "codex_login.adapters.home_access",  # how the file store reaches its directories
    "codex_login.adapters.lazy_endpoint",
    "codex_login.adapters.lock_file",
    "codex_login.adapters.lock_holders",
    "codex_login.adapters.memory_store",
    "codex_login.adapters.os_flags",  # the open flags and uid each platform has
    "codex_login.adapters.owned_paths",
    "codex_login.adapters.store_core",
    "codex_login.adapters.process_memory",
    "codex_login.application",
    "codex_login.application.options",
    "codex_login.application.seam",
    "codex_login.application.service",
    "codex_login.domain",
    "codex_login.domain.access_tokens",
    "codex_login.domain.choice",
    "codex_login.domain.claims",
    "codex_login.domain.errors",
    "codex_login.domain.fields_repr",
    "codex_login.domain.foreign",
    "codex_login.domain.issuer",
    "codex_login.domain.jwt",
    "codex_login.domain.login_policy",
    "codex_login.domain.masking",
    "codex_login.domain.model_api",
    "codex_login.domain.modes",
    "codex_login.domain.origins",
    "codex_login.domain.plans",
    "codex_login.domain.printable",
    "codex_login.domain.record",
    "codex_login.domain.refresh_policy",
    "codex_login.domain.resolution",
    "codex_login.domain.timestamps",
    "codex_login.domain.tokens",
    "codex_login.entrypoints",
    "codex_login.entrypoints.bootstrap",
    "codex_login.entrypoints.cli",
    "codex_login.entrypoints.cli.dispatch",
    "codex_login.entrypoints.cli.errors",
    "codex_login.entrypoints.cli.interrupts",
    "codex_login.entrypoints.cli.io",
    "codex_login.entrypoints.cli.shared",
    "codex_login.entrypoints.cli.table",
    "codex_login.entrypoints.cli.wiring",
    "codex_login.entrypoints.console",
    "codex_login.entrypoints.remedies",
    "codex_login.entrypoints.settings",
}
HOT_PATH = {
    "status": BOTH
    | {
        "codex_login.application.status",
        "codex_login.entrypoints.cli.output",
        "codex_login.entrypoints.cli.status",
    },
    "token": BOTH
    | {
        "codex_login.application.auth_manager",
        "codex_login.domain.refresh",
        "codex_login.entrypoints.cli.token",
    },
}

# Packages a read-only command never needs (each costs milliseconds): the HTTP and
# OAuth stacks, an event loop, the network, other stores' clients, logging (-v only),
# ctypes (the one libc call, prctl, goes through its C half, _ctypes), signal (its enums:
# the console script uses _signal, which the interpreter has loaded), shutil with the
# compressors it loads (argparse wants only the terminal's width from it), and, given
# alone, argparse with gettext and locale (the words it looks up in catalogues on disk).
NEVER = (
    "aiohttp",
    "argparse",
    "asyncio",
    "authlib",
    "bz2",
    "concurrent",
    "ctypes",
    "email",
    "filelock",
    "gettext",
    "grpc",
    "http",
    "httpx",
    "keyring",
    "logging",
    "locale",
    "lzma",
    "redis",
    "requests",
    "secretstorage",
    "shutil",
    "signal",
    "socket",
    "ssl",
    "subprocess",
)


def run_entry(home: Path, command: str) -> dict[str, object]:
    env = clean_env(home)
    env.pop("CODEX_LOGIN_DUMPABLE", None)  # the non-dumpable call is part of the start-up
    child = subprocess.run(
        [sys.executable, "-c", _RUN, SCRIPT.value, command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    found: dict[str, object] = json.loads(child.stderr.strip().splitlines()[-1])
    assert found["code"] == 0, child.stderr
    return found


def write_login(home: Path, kind: str) -> None:
    fresh = chatgpt_document(expires_at=datetime.now(UTC) + timedelta(hours=1))
    text = API_KEY_FILE if kind == "apikey" else json.dumps(fresh, indent=2)
    (home / "auth.json").write_text(text)
    (home / "auth.json").chmod(0o600)


@pytest.mark.parametrize("command", ["status", "token"])
@pytest.mark.parametrize("kind", ["apikey", "chatgpt"])
def test_read_only_commands_load_only_the_hot_path(tmp_path: Path, command: str, kind: str) -> None:
    write_login(tmp_path, kind)
    loaded = run_entry(tmp_path, command)["modules"]
    assert isinstance(loaded, list)
    ours = {name for name in loaded if name.split(".")[0] == "codex_login"}
    expected = HOT_PATH[command]
    assert ours == expected, f"more: {sorted(ours - expected)}, fewer: {sorted(expected - ours)}"
    assert [name for name in loaded if name.split(".")[0] in NEVER] == []


@pytest.mark.parametrize("command", ["status", "token"])
def test_no_garbage_collection_while_the_command_loads(tmp_path: Path, command: str) -> None:
    """The modules' objects live as long as the process: collecting while they load only
    walks them again and again (about a tenth of the start-up). Once loaded they are
    frozen, so the command's own collections leave them out too."""
    write_login(tmp_path, "chatgpt")
    found = run_entry(tmp_path, command)
    assert found["collections_while_loading"] == []
    assert isinstance(found["frozen"], int)
    assert found["frozen"] > 10_000


def test_token_prints_an_access_token_without_whoami_or_the_http_stack(tmp_path: Path) -> None:
    """The bearer alone needs no workspace: whoami is not asked, aiohttp not loaded."""
    (tmp_path / "auth.json").write_text(
        json.dumps({"OPENAI_API_KEY": None, "personal_access_token": "at-test-0123"}, indent=2)
    )
    (tmp_path / "auth.json").chmod(0o600)
    loaded = run_entry(tmp_path, "token")["modules"]
    assert isinstance(loaded, list)
    assert [name for name in loaded if name.split(".")[0] in NEVER] == []
    assert "codex_login.adapters.whoami" not in loaded
