"""One login policy for both tools: the real Codex CLI and codex-login, same files.

Each case gives both tools the same CODEX_HOME (config.toml and auth.json) and
compares their verdicts: ``login status`` (0 logged in / 1 not), API-key login
acceptance and a disabled ChatGPT login. The Codex CLI reads its managed
requirements only from /etc/codex/requirements.toml; the requirements cases run it
in a private mount namespace (``unshare -m``) where a copy of /etc holds the file,
so the real /etc is never written. Without that privilege they are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from interop.peers.codex_peer import (
    chatgpt_record,
    clean_stderr,
    codex_env,
    run_codex,
    write_auth_json,
)
from support.cli import clean_env, run_cli

pytestmark = pytest.mark.interop

KEY = "sk-test-123456789"
API_KEY_RECORD = {"auth_mode": "apikey", "OPENAI_API_KEY": KEY}
RECORDS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "apikey": API_KEY_RECORD,
    "chatgpt-ws-a": chatgpt_record(account_id="ws-a"),
    "chatgpt-ws-b": chatgpt_record(account_id="ws-b"),
}
CONFIGS = {
    "unrestricted": "",
    "unrelated keys": 'model = "o3"\n[features]\nsome_feature = true',
    "forced chatgpt": 'forced_login_method = "chatgpt"',
    "forced api": 'forced_login_method = "api"',
    "workspace ws-a": 'forced_chatgpt_workspace_id = "ws-a"',
    "workspaces list": 'forced_chatgpt_workspace_id = ["ws-c", " ws-a "]',
    "workspaces blank": 'forced_chatgpt_workspace_id = ["", " "]',
    "workspaces empty": "forced_chatgpt_workspace_id = []",
    "chatgpt in ws-b": 'forced_login_method = "chatgpt"\nforced_chatgpt_workspace_id = "ws-b"',
    "bad method": 'forced_login_method = "API"',
    "method not a string": "forced_login_method = 5",
    "workspace not a string": "forced_chatgpt_workspace_id = [1]",
    "comma string": 'forced_chatgpt_workspace_id = "ws-a,ws-b"',
    "not toml": "this is not toml",
}
REQUIREMENTS = {
    "api only": 'allowed_login_methods = ["api"]',
    "chatgpt only": 'allowed_login_methods = ["chatgpt"]',
    "no method": "allowed_login_methods = []",
    "ws-a": 'allowed_chatgpt_workspaces = ["ws-a"]',
    "no workspace": "allowed_chatgpt_workspaces = []",
    "blank workspace": 'allowed_chatgpt_workspaces = [" "]',
    "not a list": 'allowed_chatgpt_workspaces = "ws-a"',
}


def prepare(home: Path, config: str, record: dict[str, Any] | None) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(config + "\n")
    if record is not None:
        write_auth_json(home, record)


def ours(home: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, stdin=stdin, env=clean_env(home, **env))


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("config", CONFIGS)
def test_status_gives_the_same_verdict(
    codex: Path, tmp_path: Path, config: str, record: str
) -> None:
    home = tmp_path / "home"
    prepare(home, CONFIGS[config], RECORDS[record])
    before = (home / "auth.json").read_bytes() if RECORDS[record] else None
    theirs = run_codex(codex, ["login", "status"], home)
    mine = ours(home, "status")
    assert mine.returncode == theirs.returncode, (clean_stderr(theirs.stderr), mine.stderr)
    if clean_stderr(theirs.stderr).strip() == "Not logged in":
        assert mine.stderr.splitlines()[0] == "Not logged in"
    after = (home / "auth.json").read_bytes() if RECORDS[record] else None
    assert after == before  # neither tool deletes a login the policy forbids


@pytest.mark.parametrize("config", CONFIGS)
def test_api_key_login_is_accepted_and_refused_alike(
    codex: Path, tmp_path: Path, config: str
) -> None:
    theirs_home, our_home = tmp_path / "theirs", tmp_path / "ours"
    prepare(theirs_home, CONFIGS[config], None)
    prepare(our_home, CONFIGS[config], None)
    theirs = run_codex(codex, ["login", "--with-api-key"], theirs_home, stdin=KEY)
    mine = ours(our_home, "login", "--with-api-key", stdin=KEY)
    assert mine.returncode == theirs.returncode, (clean_stderr(theirs.stderr), mine.stderr)
    assert (our_home / "auth.json").exists() == (theirs_home / "auth.json").exists()
    if "API key login is disabled" in theirs.stderr:
        assert mine.stderr == "Error: API key login is disabled. Use ChatGPT login instead.\n"


CHATGPT_DISABLED = "ChatGPT login is disabled. Use API key login instead."


def test_a_disabled_chatgpt_login_is_refused_alike(codex: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepare(home, CONFIGS["forced api"], None)
    theirs = run_codex(codex, ["login", "--device-auth"], home, timeout=30)
    mine = ours(home, "login", "--device-auth")
    assert (theirs.returncode, clean_stderr(theirs.stderr).strip()) == (1, CHATGPT_DISABLED)
    assert (mine.returncode, mine.stderr) == (1, f"Error: {CHATGPT_DISABLED}\n")


# -- the managed layer, in a private mount namespace ------------------------------------


@pytest.fixture(scope="module")
def private_etc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of /etc that Codex sees as /etc (bind-mounted in its own namespace only)."""
    unshare = shutil.which("unshare")
    probe = [str(unshare), "-m", "--propagation", "private", "true"] if unshare else []
    if not probe or subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        pytest.skip("no private mount namespaces here (unshare -m): Codex reads only /etc")
    etc = tmp_path_factory.mktemp("etc") / "etc"
    shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True)
    (etc / "codex").mkdir(exist_ok=True)
    return etc


def run_codex_with_requirements(
    codex: Path, etc: Path, args: list[str], home: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    script = 'mount --bind "$0" /etc && exec "$@"'
    command = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(etc)]
    return subprocess.run(
        [*command, str(codex), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=codex_env(home),
        timeout=60,
        check=False,
    )


MANAGED_CASES = list(
    product(
        ["unrestricted", "forced api", "workspaces list"],
        REQUIREMENTS,
        ["apikey", "chatgpt-ws-a", "chatgpt-ws-b"],
    )
)


@pytest.mark.parametrize("case", MANAGED_CASES, ids=["/".join(case) for case in MANAGED_CASES])
def test_status_with_managed_requirements_gives_the_same_verdict(
    codex: Path, private_etc: Path, tmp_path: Path, case: tuple[str, str, str]
) -> None:
    config, requirements, record = case
    home = tmp_path / "home"
    prepare(home, CONFIGS[config], RECORDS[record])
    managed = private_etc / "codex" / "requirements.toml"
    managed.write_text(REQUIREMENTS[requirements] + "\n")
    theirs = run_codex_with_requirements(codex, private_etc, ["login", "status"], home)
    mine = ours(home, "status", CODEX_LOGIN_REQUIREMENTS=str(managed))
    assert mine.returncode == theirs.returncode, (clean_stderr(theirs.stderr), mine.stderr)


def test_workspaces_narrowed_to_nothing_disable_chatgpt_login_alike(
    codex: Path, private_etc: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    prepare(home, 'forced_chatgpt_workspace_id = "ws-c"', None)
    managed = private_etc / "codex" / "requirements.toml"
    managed.write_text(REQUIREMENTS["ws-a"] + "\n")
    theirs = run_codex_with_requirements(codex, private_etc, ["login", "--device-auth"], home)
    mine = ours(home, "login", "--device-auth", CODEX_LOGIN_REQUIREMENTS=str(managed))
    assert (theirs.returncode, clean_stderr(theirs.stderr).strip()) == (1, CHATGPT_DISABLED)
    assert (mine.returncode, mine.stderr) == (1, f"Error: {CHATGPT_DISABLED}\n")
