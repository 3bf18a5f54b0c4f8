"""auth.json is interchangeable with the real Codex CLI, in both directions, locks included."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from interop.peers.codex_peer import (
    LoopbackServer,
    chatgpt_backend_routes,
    chatgpt_record,
    clean_stderr,
    flock_is_free,
    hold_flock,
    refresh_with_app_server,
    run_codex,
    start_api_key_login,
    unsigned_jwt,
    write_auth_json,
)
from support.cli import CLI, clean_env, run_cli
from support.locks import in_syscall
from support.waiting import wait_until

pytestmark = pytest.mark.interop


def new_home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir(mode=0o700)
    return home


@pytest.mark.parametrize("key", ["sk-test-123456789", 'sk-proj-é"\\ключ-ABCDE12345'])
def test_api_key_login_writes_the_same_bytes_as_the_codex_cli(
    codex: Path, tmp_path: Path, key: str
) -> None:
    theirs, ours = new_home(tmp_path, "theirs"), new_home(tmp_path, "ours")
    assert run_codex(codex, ["login", "--with-api-key"], theirs, stdin=f"{key}\n").returncode == 0
    assert run_cli("login", "--with-api-key", home=ours, stdin=f"{key}\n").returncode == 0
    assert (ours / "auth.json").read_bytes() == (theirs / "auth.json").read_bytes()


def test_the_codex_cli_reports_our_api_key_login(codex: Path, tmp_path: Path) -> None:
    home = new_home(tmp_path, "codex")
    run_cli("login", "--with-api-key", home=home, stdin="sk-test-123456789")
    status = run_codex(codex, ["login", "status"], home)
    assert status.returncode == 0
    assert clean_stderr(status.stderr).splitlines()[0] == "API key configured - sk-test-***56789"


def test_we_report_the_codex_cli_api_key_login(codex: Path, tmp_path: Path) -> None:
    """Our first line is Codex's, word for word and with the same mask (issue 25)."""
    home = new_home(tmp_path, "codex")
    run_codex(codex, ["login", "--with-api-key"], home, stdin="sk-test-123456789")
    theirs = run_codex(codex, ["login", "status"], home)
    ours = run_cli("status", home=home)
    assert (ours.returncode, theirs.returncode) == (0, 0)
    first = clean_stderr(theirs.stderr).splitlines()[0]
    assert first == "API key configured - sk-test-***56789"
    assert ours.stderr.splitlines()[0] == first


def test_a_hand_made_chatgpt_file_reads_the_same_in_both_tools(codex: Path, tmp_path: Path) -> None:
    home = new_home(tmp_path, "codex")
    write_auth_json(home, chatgpt_record(plan="pro", account_id="acct-123"))
    theirs = run_codex(codex, ["login", "status"], home)
    ours = run_cli("status", "--json", home=home)
    assert clean_stderr(theirs.stderr) == "Logged in using ChatGPT"
    assert ours.stderr == "Logged in using ChatGPT\n"
    details = json.loads(ours.stdout)
    assert (details["email"], details["plan"], details["account_id"]) == (
        "user@example.com",
        "pro",
        "acct-123",
    )


def test_we_read_a_file_the_codex_cli_refreshed(codex: Path, tmp_path: Path) -> None:
    home = new_home(tmp_path, "codex")
    write_auth_json(home, {**chatgpt_record(refresh_token="rt-1"), "extra_field": [1, 2]})
    expires = int(time.time()) + 3600
    with LoopbackServer(chatgpt_backend_routes()) as server:
        server.routes["POST /oauth/token"] = (
            200,
            {"access_token": unsigned_jwt({"exp": expires}), "refresh_token": "rt-2"},
        )
        refresh_with_app_server(
            codex, home, refresh_url=f"{server.url}/oauth/token", base_url=server.url
        )
    written = json.loads((home / "auth.json").read_bytes())
    assert len(written["last_refresh"]) == len("2026-01-01T00:00:00.123456789Z")
    loaded = FileCredentialStore(home).load()
    assert loaded is not None
    assert loaded.warnings == ()
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.refresh_token == "rt-2"
    assert loaded.record.last_refresh is not None
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["access_token_expires_at"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expires))
    )


def test_we_wait_while_the_codex_cli_commits(codex: Path, tmp_path: Path) -> None:
    home = new_home(tmp_path, "codex")
    with hold_flock(home / "auth.json.lock"):
        theirs = start_api_key_login(codex, home, "sk-codex-key-00000")
        wait_until(lambda: not flock_is_free(home / "auth.lock"), 20, "codex to take auth.lock")
        ours = subprocess.Popen(
            [str(CLI), "-v", "login", "--with-api-key"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(home),
            text=True,
        )
        assert ours.stdin is not None
        assert ours.stderr is not None
        ours.stdin.write("sk-ours-key-11111")
        ours.stdin.close()
        waiting = ours.stderr.readline()
        assert waiting.startswith(f"Waiting for {home / 'auth.lock'}, held by process ")
        assert "(codex); giving up after 90 s" in waiting
        assert ours.poll() is None
    # Released: the Codex CLI commits first (it holds auth.lock), then we do.
    theirs.communicate(timeout=30)
    with ours.stderr:
        assert ours.wait(timeout=30) == 0, ours.stderr.read()
    assert theirs.returncode == 0
    assert json.loads((home / "auth.json").read_bytes())["OPENAI_API_KEY"] == "sk-ours-key-11111"


def test_the_codex_cli_waits_while_we_hold_the_writer_lock(codex: Path, tmp_path: Path) -> None:
    home = new_home(tmp_path, "codex")
    store = FileCredentialStore(home)
    with store.exclusive():
        theirs = start_api_key_login(codex, home, "sk-codex-key-00000")
        wait_until(lambda: in_syscall(theirs.pid, "flock"), 20, "codex to wait for auth.lock")
        store.save(CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-ours-111111"))
        assert theirs.poll() is None
    theirs.communicate(timeout=30)
    assert theirs.returncode == 0
    assert json.loads((home / "auth.json").read_bytes())["OPENAI_API_KEY"] == "sk-codex-key-00000"
