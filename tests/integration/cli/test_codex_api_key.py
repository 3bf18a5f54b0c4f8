"""CODEX_API_KEY: handed out before any stored credential, as the Codex CLI's exec does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codex_login import CodexAuth
from support.cli import clean_env, run_in_process
from support.records import chatgpt_document

KEY = "sk-test-codex-api-key-0123456789"


def write_chatgpt_login(home: Path) -> bytes:
    home.mkdir(mode=0o700, exist_ok=True)
    document = chatgpt_document(expires_at=datetime.now(UTC) + timedelta(hours=1))
    data = json.dumps(document, indent=2).encode()
    (home / "auth.json").write_bytes(data)
    return data


def test_token_sends_codex_api_key_before_the_stored_login(tmp_path: Path) -> None:
    before = write_chatgpt_login(tmp_path)
    result = run_in_process("token", "--json", env=clean_env(tmp_path, CODEX_API_KEY=KEY))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["token"], document["mode"]) == (KEY, "apikey")
    assert (tmp_path / "auth.json").read_bytes() == before  # the login is kept as it was


def test_a_whitespace_only_codex_api_key_is_no_key(tmp_path: Path) -> None:
    write_chatgpt_login(tmp_path)
    stored = json.loads((tmp_path / "auth.json").read_bytes())["tokens"]["access_token"]
    result = run_in_process("token", env=clean_env(tmp_path, CODEX_API_KEY="  \n"))
    assert result.stdout == f"{stored}\n"


def test_codex_api_key_without_any_login_is_the_login(tmp_path: Path) -> None:
    result = run_in_process("token", env=clean_env(tmp_path, CODEX_API_KEY=f"  {KEY}\n"))
    assert (result.returncode, result.stdout) == (0, f"{KEY}\n")
    status = run_in_process("status", env=clean_env(tmp_path, CODEX_API_KEY=KEY))
    assert status.stderr.splitlines()[0] == "API key configured - sk-test-***56789"


def test_status_keeps_the_codex_cli_line_and_says_the_key_takes_precedence(
    tmp_path: Path,
) -> None:
    write_chatgpt_login(tmp_path)
    status = run_in_process("status", env=clean_env(tmp_path, CODEX_API_KEY=KEY))
    lines = status.stderr.splitlines()
    assert (status.returncode, lines[0]) == (0, "Logged in using ChatGPT")
    assert lines[-1].startswith("  note: the CODEX_API_KEY environment variable is set")
    assert KEY not in status.stderr
    as_json = run_in_process("status", "--json", env=clean_env(tmp_path, CODEX_API_KEY=KEY))
    assert json.loads(as_json.stdout)["overridden_by"] == "CODEX_API_KEY environment variable"


def test_the_embedding_api_uses_codex_api_key_too(tmp_path: Path) -> None:
    write_chatgpt_login(tmp_path)
    env = {"CODEX_HOME": str(tmp_path), "CODEX_API_KEY": KEY}
    with CodexAuth(environ=env) as auth:
        assert auth.get_token() == KEY
        assert auth.refresh().token == KEY
