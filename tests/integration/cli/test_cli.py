"""The installed ``codex-login`` command, run as users run it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import CLI, clean_env, run_in_process
from support.locks import in_syscall
from support.other_users import AS_A_USER_WOULD, need_root_and_setpriv
from support.records import chatgpt_document
from support.tokens import id_token
from support.waiting import wait_until

KEY = "sk-test-123456789"
API_KEY_FILE = b'{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456789"\n}'


def write_auth(home: Path, content: bytes | dict[str, object]) -> Path:
    home.mkdir(exist_ok=True)
    path = home / "auth.json"
    data = content if isinstance(content, bytes) else json.dumps(content, indent=2).encode()
    path.write_bytes(data)
    return path


# -- login --with-api-key ---------------------------------------------------------


def test_api_key_login_from_a_pipe(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    result = run_in_process("login", "--with-api-key", home=home, stdin=f"  {KEY}\n")
    assert result.returncode == 0
    assert result.stderr.strip() == "Successfully logged in"
    assert result.stdout == ""
    assert (home / "auth.json").read_bytes() == API_KEY_FILE
    assert oct((home / "auth.json").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("stdin", "problem"),
    [("", "empty"), (" \n\n", "empty"), ("sk-one\nsk-two\n", "line breaks"), ("sk a", "spaces")],
)
def test_unusable_keys_are_refused_and_nothing_changes(
    tmp_path: Path, stdin: str, problem: str
) -> None:
    path = write_auth(tmp_path, API_KEY_FILE)
    result = run_in_process("login", "--with-api-key", home=tmp_path, stdin=stdin)
    assert result.returncode == 1
    assert problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == API_KEY_FILE


def test_a_key_in_the_arguments_is_refused(tmp_path: Path) -> None:
    result = run_in_process("login", "--api-key", KEY, home=tmp_path)
    assert result.returncode == 2
    assert "leak" in result.stderr
    assert "| codex-login login --with-api-key" in result.stderr
    assert KEY not in result.stderr
    assert not (tmp_path / "auth.json").exists()


def test_login_replaces_a_malformed_file(tmp_path: Path) -> None:
    write_auth(tmp_path, b"{not json")
    result = run_in_process("login", "--with-api-key", home=tmp_path, stdin=KEY)
    assert result.returncode == 0
    assert (tmp_path / "auth.json").read_bytes() == API_KEY_FILE


def test_interrupting_login_exits_130_and_writes_nothing(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [str(CLI), "login", "--with-api-key"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        text=True,
    )
    try:
        assert child.stdin is not None
        child.stdin.write("sk-partial")
        child.stdin.flush()
        _wait_until_reading_stdin(child.pid)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130
    assert "Traceback" not in stderr
    assert not (tmp_path / "auth.json").exists()


def _wait_until_reading_stdin(pid: int) -> None:
    """Wait for the child to block in read(2) on fd 0, where Ctrl-C would reach it."""
    wait_until(lambda: in_syscall(pid, "read", first_argument=0), 30, "a read of stdin")


# -- read-only commands ---------------------------------------------------------------

READ_ONLY = [
    pytest.param(command, id=" ".join(command))
    for command in (
        ("export",),
        ("export", "--move"),
        ("logout",),
        ("logout", "--local"),
        ("status",),
        ("accounts",),
        ("token",),
    )
]


@pytest.mark.parametrize("command", READ_ONLY)
def test_a_read_only_command_creates_no_codex_home(tmp_path: Path, command: tuple[str]) -> None:
    home = tmp_path / "missing"
    result = run_in_process(*command, home=home)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not home.exists()


@pytest.mark.parametrize("command", READ_ONLY)
def test_a_read_only_command_creates_no_lock_file(tmp_path: Path, command: tuple[str]) -> None:
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    run_in_process(*command, home=home)
    assert list(home.iterdir()) == []


# -- status ---------------------------------------------------------------------


def test_status_of_an_api_key_login(tmp_path: Path) -> None:
    write_auth(tmp_path, API_KEY_FILE)
    result = run_in_process("status", home=tmp_path)
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        0,
        "API key configured - sk-test-***56789",
    )


def test_status_of_a_chatgpt_login_as_json(tmp_path: Path) -> None:
    write_auth(tmp_path, chatgpt_document(plan="plus"))
    result = run_in_process("status", "--json", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr == "Logged in using ChatGPT\n"
    document = json.loads(result.stdout)
    assert document["mode"] == "chatgpt"
    assert document["email"] == "user@example.com"
    assert document["plan"] == "plus"
    assert document["account_id"] == "acc-123"
    assert document["last_refresh"] == "2026-11-28T10:45:43.654531Z"
    assert document["access_token_expires_at"] is not None
    assert isinstance(document["refresh_due"], bool)
    assert document["source"] == str(tmp_path / "auth.json")


def test_status_when_not_logged_in(tmp_path: Path) -> None:
    result = run_in_process("status", home=tmp_path / "empty")
    assert (result.returncode, result.stderr) == (1, "Not logged in\n")
    assert not (tmp_path / "empty").exists()


def test_status_v_when_not_logged_in_says_where_it_looked(tmp_path: Path) -> None:
    """The Codex CLI's line stays alone; -v adds the sources tried, in order (issue 21)."""
    result = run_in_process("status", "-v", home=tmp_path / "empty")
    assert (result.returncode, result.stderr) == (
        1,
        f"Not logged in\n  looked for CODEX_API_KEY, {tmp_path / 'empty' / 'auth.json'}, "
        "OPENAI_API_KEY\n",
    )


def test_status_uses_the_environment_key_only_without_a_file(tmp_path: Path) -> None:
    env = clean_env(tmp_path, OPENAI_API_KEY="sk-env-0123456789")
    result = run_in_process("status", env=env)
    assert result.stderr.splitlines()[0] == "API key configured - sk-env-0***56789"
    write_auth(tmp_path, b"[]")
    result = run_in_process("status", env=env)
    assert result.returncode == 1
    assert "sk-env" not in result.stderr


MALFORMED = [
    (b"", "it is empty"),
    (b'\xef\xbb\xbf{"OPENAI_API_KEY": "k"}', "byte-order mark"),
    (b'{"OPENAI_API_KEY": "k",}', "not valid JSON"),
    (b"[1, 2]", "holds a JSON array"),
    (b'{"auth_mode": 3}', "auth_mode must be a string"),
    (b'{"OPENAI_API_KEY": ["k"]}', "OPENAI_API_KEY must be a string"),
    (
        json.dumps({"tokens": {"id_token": id_token(), "refresh_token": "r"}}).encode(),
        "tokens.access_token is missing",
    ),
    (
        json.dumps(
            {"tokens": {"id_token": "nope", "access_token": "a", "refresh_token": "r"}}
        ).encode(),
        "tokens.id_token is not a decodable JWT",
    ),
    (
        json.dumps(
            {"tokens": {"id_token": id_token(), "access_token": 1, "refresh_token": "r"}}
        ).encode(),
        "tokens.access_token must be a string",
    ),
    (b'{"auth_mode": "apikey", "OPENAI_API_KEY": null}', "OPENAI_API_KEY is null"),
]


@pytest.mark.parametrize(("data", "problem"), MALFORMED)
def test_malformed_files_give_one_line_and_stay_byte_identical(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    path = write_auth(tmp_path, data)
    env = clean_env(tmp_path, OPENAI_API_KEY="sk-env-fallback-must-not-be-used")
    result = run_in_process("status", env=env)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error checking login status: cannot use {path}: ")
    assert problem in lines[0]
    assert path.read_bytes() == data


# Files that cannot be read as a record (the null key reads, then fails to resolve).
UNREADABLE = [case for case in MALFORMED if case[1] != "OPENAI_API_KEY is null"]


@pytest.mark.parametrize(("data", "problem"), UNREADABLE)
@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["text", "json"])
def test_accounts_reports_a_malformed_file_as_an_error(
    tmp_path: Path, data: bytes, problem: str, json_flag: tuple[str, ...]
) -> None:
    path = write_auth(tmp_path, data)
    result = run_in_process("accounts", *json_flag, home=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot use {path}: ")
    assert problem in line
    if json_flag:  # issue 26: the error document on stdout too
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "malformed_credentials"
        assert line == f"Error: {error['message']}; {error['action']}"
    else:
        assert result.stdout == ""
    assert path.read_bytes() == data


def test_logout_of_a_malformed_file_says_nothing_was_revoked(tmp_path: Path) -> None:
    path = write_auth(tmp_path, b"{not json")
    result = run_in_process("logout", home=tmp_path)
    assert result.returncode == 0
    done, note = result.stderr.splitlines()
    assert done == "Successfully logged out"
    assert note.startswith(f"  nothing was revoked at the issuer: {path} could not be read (")
    assert "not valid JSON" in note
    assert not path.exists()


def test_logout_keeps_a_login_it_cannot_read_and_says_what_to_do(tmp_path: Path) -> None:
    """A file whose mode slipped may hold a sound login: deleted unread, it could never
    be revoked. `--local` deletes it, as asked."""
    need_root_and_setpriv()
    path = write_auth(tmp_path, chatgpt_document())
    before = path.read_bytes()
    path.chmod(0o000)
    logout = [*AS_A_USER_WOULD, str(CLI), "logout"]
    kept = subprocess.run(
        logout, env=clean_env(tmp_path), capture_output=True, text=True, check=False
    )
    assert kept.returncode == 1, kept.stderr
    assert kept.stderr == (
        f"Error: cannot read {path}: Permission denied; the login was kept, neither revoked "
        f"nor deleted; make it readable, or run `codex-login logout --local` to delete it "
        "unrevoked\n"
    )
    path.chmod(0o600)
    assert path.read_bytes() == before
    path.chmod(0o000)
    local = subprocess.run(
        [*logout, "--local"], env=clean_env(tmp_path), capture_output=True, text=True, check=False
    )
    assert (local.returncode, local.stderr) == (0, "Successfully logged out\n")
    assert not path.exists()


def test_a_local_logout_of_a_malformed_file_revokes_nothing_anyway(tmp_path: Path) -> None:
    path = write_auth(tmp_path, b"{not json")
    result = run_in_process("logout", "--local", home=tmp_path)
    assert (result.returncode, result.stderr) == (0, "Successfully logged out\n")
    assert not path.exists()


def test_a_malformed_optional_field_is_only_a_warning(tmp_path: Path) -> None:
    path = write_auth(tmp_path, chatgpt_document(last_refresh=""))
    before = path.read_bytes()
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines()[:2] == [
        'Warning: ignoring last_refresh "": not an RFC 3339 timestamp',
        "Logged in using ChatGPT",
    ]
    assert path.read_bytes() == before


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "auth.json").mkdir()
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error checking login status: cannot read {tmp_path / 'auth.json'}: "
        "it is a directory, not a file"
    )


def test_codex_home_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "not-a-dir"
    home.write_text("")
    status = run_in_process("status", home=home)
    assert status.returncode == 1
    assert f"{home} is not a directory (it is a file)" in status.stderr
    login = run_in_process("login", "--with-api-key", home=home, stdin=KEY)
    assert login.returncode == 1
    # Checked before the login starts, which says what to do (issue 21); in the words
    # every command now uses for a file in CODEX_HOME's place.
    [line] = login.stderr.splitlines()
    assert line.startswith(f"Error: the credential directory {home} is not a directory")
    assert "CODEX_HOME" in line


def test_codex_home_option_beats_the_environment(tmp_path: Path) -> None:
    write_auth(tmp_path / "chosen", API_KEY_FILE)
    env = clean_env(tmp_path / "ignored")
    result = run_in_process("--codex-home", str(tmp_path / "chosen"), "status", env=env)
    assert result.returncode == 0


# -- logout ---------------------------------------------------------------------


def test_logout(tmp_path: Path) -> None:
    write_auth(tmp_path, API_KEY_FILE)
    first = run_in_process("logout", home=tmp_path)
    assert (first.returncode, first.stderr) == (0, "Successfully logged out\n")
    assert not (tmp_path / "auth.json").exists()
    second = run_in_process("logout", home=tmp_path)
    assert (second.returncode, second.stderr) == (0, "Not logged in\n")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_in_process(home=tmp_path).returncode == 2
    assert run_in_process("frobnicate", home=tmp_path).returncode == 2


# -- start-up cost ----------------------------------------------------------------

_IMPORTS = """
import sys
from codex_login.entrypoints.cli import main
code = main(sys.argv[1:])
heavy = sorted(
    m
    for m in sys.modules
    if m.split(".")[0] in ("aiohttp", "authlib", "filelock", "asyncio", "grpc")
)
print(code, heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("command", ["status", "token"])
@pytest.mark.parametrize("kind", ["apikey", "chatgpt"])
def test_read_only_commands_import_neither_aiohttp_nor_authlib_nor_filelock_nor_asyncio(
    tmp_path: Path, command: str, kind: str
) -> None:
    fresh = chatgpt_document(expires_at=datetime.now(UTC) + timedelta(hours=1))
    write_auth(tmp_path, API_KEY_FILE if kind == "apikey" else fresh)
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS, command],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        check=True,
        timeout=60,
    )
    assert result.stderr.strip().splitlines()[-1] == "0 []"


def test_a_bug_is_one_line_without_its_message_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from codex_login.entrypoints import cli  # noqa: PLC0415
    from codex_login.entrypoints.cli import wiring  # noqa: PLC0415

    def broken(**_: object) -> None:
        raise RuntimeError("sk-secret-in-a-message")

    monkeypatch.setattr(wiring, "bootstrap", broken)
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == (
        "Error: unexpected RuntimeError, a bug in codex-login (-v shows details)\n"
    )
    with pytest.raises(RuntimeError, match="sk-secret"):
        cli.main(["-v", "status"])
