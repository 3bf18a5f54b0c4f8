"""What the CLI prints: -v details line by line, and nothing when stdout's reader has gone."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import CLI, clean_env, run_in_process
from support.records import chatgpt_document

KEY = "sk-test-123456789"
API_KEY_FILE = json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY})


def write_auth(home: Path, document: str | dict[str, object]) -> None:
    home.mkdir(exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    (home / "auth.json").write_text(text)


# -- a closed stdout ---------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
@pytest.mark.parametrize("command", [["status", "--json"], ["token"], ["token", "--json"]])
def test_a_closed_stdout_ends_the_command_quietly(
    tmp_path: Path, command: list[str], unbuffered: bool
) -> None:
    write_auth(tmp_path, API_KEY_FILE)
    env = clean_env(tmp_path)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:  # the write itself fails, not the flush at exit
        env["PYTHONUNBUFFERED"] = "1"
    child = subprocess.Popen(
        [str(CLI), *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    child.stdout.close()  # the reader goes away before the command writes a byte (`| head`)
    _, stderr = child.communicate(timeout=60)
    # 141 = 128 + SIGPIPE: what a shell reports for git or cat in the same place.
    assert (child.returncode, stderr.decode()) == (141, "")


@pytest.mark.parametrize("stdout", ["full", "closed"])
@pytest.mark.parametrize(
    "command", [["token"], ["status", "--json"], ["export", "--move", "--force"]], ids=" ".join
)
def test_a_stdout_that_cannot_be_written_is_one_line_and_loses_nothing(
    tmp_path: Path, command: list[str], stdout: str
) -> None:
    """A full disk (/dev/full), or stdout closed before the command began (`>&-`): it
    was 'a bug in codex-login' or a traceback; an export that could not be written moved
    nothing."""
    write_auth(tmp_path, API_KEY_FILE)
    before = (tmp_path / "auth.json").read_bytes()
    redirect = ">/dev/full" if stdout == "full" else ">&-"
    result = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", str(CLI), *command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    reason = "No space left on device" if stdout == "full" else "it is closed"
    assert (result.returncode, result.stderr) == (1, f"Error: cannot write to stdout: {reason}\n")
    assert (tmp_path / "auth.json").read_bytes() == before


# -- -v ------------------------------------------------------------------------------


def test_status_v_shows_each_detail_on_a_line_with_booleans_in_words(tmp_path: Path) -> None:
    write_auth(tmp_path, chatgpt_document(plan="pro", expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    result = run_in_process("status", "-v", home=tmp_path)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[6].startswith("  access token: expired ")  # how long ago: test_cli_comforts
    assert lines[:6] + lines[7:] == [
        "Logged in using ChatGPT",
        "  email: user@example.com",
        "  plan: Pro",
        "  account id: acc-123",
        "  issuer: https://auth.openai.com",
        f"  credentials: {tmp_path / 'auth.json'}",
        "  access token expires at: 2020-01-01T00:00:00Z",
        "  last refresh: 2026-11-28T10:45:43.654531Z",
        "  refresh due: yes",
        "  client id: app_EMoamEEZ73f0CkXaXp7hrann",
    ]
    assert run_in_process("-v", "status", home=tmp_path).stderr == result.stderr


def test_status_v_says_no_when_no_refresh_is_due(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    document = chatgpt_document(
        expires_at=now + timedelta(hours=1), last_refresh=now.isoformat().replace("+00:00", "Z")
    )
    write_auth(tmp_path, document)
    result = run_in_process("status", "-v", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines()[-2] == "  refresh due: no"


def test_status_v_of_an_api_key_login(tmp_path: Path) -> None:
    write_auth(tmp_path, API_KEY_FILE)
    result = run_in_process("status", "-v", home=tmp_path)
    assert (result.returncode, result.stderr.splitlines()) == (
        0,
        [
            "API key configured - sk-test-***56789",
            f"  credentials: {tmp_path / 'auth.json'}",
        ],
    )


def test_api_key_login_v_says_where_the_key_went(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    result = run_in_process("login", "--with-api-key", "-v", home=home, stdin=KEY)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "Successfully logged in",
        f"  credentials: {home / 'auth.json'}",
    ]
    assert KEY not in result.stderr


# -- timestamps ------------------------------------------------------------------------


def test_status_json_writes_a_moment_as_auth_json_does(tmp_path: Path) -> None:
    stamp = "2026-11-28T10:45:43.654Z"  # whole milliseconds: chrono writes three digits
    write_auth(tmp_path, chatgpt_document(last_refresh=stamp))
    shown = run_in_process("status", "--json", home=tmp_path)
    verbose = run_in_process("status", "-v", home=tmp_path)
    assert json.loads(shown.stdout)["last_refresh"] == stamp
    assert f"  last refresh: {stamp}" in verbose.stderr.splitlines()


# -- the JSON documents, byte for byte -------------------------------------------------


def test_the_json_documents_keep_their_keys_order_and_layout(tmp_path: Path) -> None:
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_auth(tmp_path, chatgpt_document(expires_at=expiry))
    outputs = [
        run_in_process(*command, home=tmp_path).stdout
        for command in (["status", "--json"], ["token", "--json"], ["accounts", "--json"])
    ]
    token = json.loads(outputs[1])["token"]
    assert outputs == [
        "{\n"
        '  "version": 1,\n'
        '  "logged_in": true,\n'
        '  "mode": "chatgpt",\n'
        '  "foreign_login": null,\n'
        f'  "source": "{tmp_path / "auth.json"}",\n'
        '  "email": "user@example.com",\n'
        '  "plan": "pro",\n'
        '  "account_id": "acc-123",\n'
        '  "issuer": "https://auth.openai.com",\n'
        '  "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",\n'
        '  "last_refresh": "2026-11-28T10:45:43.654531Z",\n'
        '  "access_token_expires_at": "2030-01-02T03:04:05Z",\n'
        '  "refresh_due": false,\n'
        '  "api_key": null,\n'
        '  "overridden_by": null,\n'
        '  "warnings": [],\n'
        '  "kind": "ChatGPT"\n'
        "}\n",
        "{\n"
        '  "version": 1,\n'
        f'  "token": "{token}",\n'
        '  "mode": "chatgpt",\n'
        '  "expires_at": "2030-01-02T03:04:05Z",\n'
        '  "account_id": "acc-123",\n'
        '  "base_url": "https://chatgpt.com/backend-api/codex",\n'
        '  "headers": {\n'
        f'    "Authorization": "Bearer {token}",\n'
        '    "ChatGPT-Account-ID": "acc-123"\n'
        "  }\n"
        "}\n",
        "{\n"
        '  "version": 1,\n'
        '  "accounts": [\n'
        "    {\n"
        '      "name": "user",\n'
        '      "active": true,\n'
        '      "mode": "chatgpt",\n'
        '      "email": "user@example.com",\n'
        '      "plan": "pro",\n'
        '      "workspace_id": "acc-123",\n'
        '      "issuer": null,\n'
        '      "kind": "ChatGPT",\n'
        '      "api_key": null\n'
        "    }\n"
        "  ]\n"
        "}\n",
    ]
    (tmp_path / "auth.json").unlink()
    assert (
        run_in_process("status", "--json", home=tmp_path).stdout
        == '{\n  "version": 1,\n  "logged_in": false\n}\n'
    )
    assert (
        run_in_process("accounts", "--json", home=tmp_path).stdout
        == '{\n  "version": 1,\n  "accounts": []\n}\n'
    )
