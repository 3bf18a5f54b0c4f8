"""The command line's comforts: who am I, help, version, a hidden key prompt, exit codes.

Everything runs the installed console script (``support.cli``), except the unit tests
of ``expiry_in_words``, the pure function behind status's "expires in 42 min".
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import pytest

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.entrypoints.cli.output import expiry_in_words
from codex_login.entrypoints.cli.table import COMMANDS as TABLE
from support.cli import (
    AUTHORIZE_URL,
    CLI,
    clean_env,
    run_in_process,
    start_device_login,
    start_until,
)
from support.fake_issuer import Failure, FakeIssuer
from support.logins import issuer_env, write_login
from support.posix import posix_module
from support.records import chatgpt_document
from support.terminal import at_a_terminal

KEY = "sk-test-123456789"
API_KEY_FILE = json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY})
COMMANDS = ["login", "status", "token", "export", "import", "serve", "logout", "doctor"]
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def write_auth(home: Path, document: str | dict[str, object]) -> Path:
    home.mkdir(exist_ok=True)
    path = home / "auth.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


# -- expiry in words (a pure function) ----------------------------------------------


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(minutes=42, seconds=59), "expires in 42 min"),
        (timedelta(seconds=59), "expires in under 1 min"),
        (timedelta(minutes=1), "expires in 1 min"),
        (timedelta(minutes=119), "expires in 119 min"),
        (timedelta(hours=3, minutes=59), "expires in 3 h"),
        (timedelta(hours=47, minutes=59), "expires in 47 h"),
        (timedelta(days=2), "expires in 2 days"),
        (timedelta(days=9, hours=23), "expires in 9 days"),
        (timedelta(0), "expired just now"),
        (-timedelta(seconds=59), "expired just now"),
        (-timedelta(minutes=42), "expired 42 min ago"),
        (-timedelta(hours=3, minutes=30), "expired 3 h ago"),
        (-timedelta(days=3, hours=1), "expired 3 days ago"),
    ],
)
def test_expiry_in_words(offset: timedelta, words: str) -> None:
    assert expiry_in_words(NOW + offset, NOW) == words


def test_an_unknown_expiry_has_no_words() -> None:
    assert expiry_in_words(None, NOW) is None


# -- status: who am I ------------------------------------------------------------------


def test_status_names_the_account_the_store_and_the_token_expiry(tmp_path: Path) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=42, seconds=40)
    path = write_auth(tmp_path, chatgpt_document(plan="pro", expires_at=expires))
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "Logged in using ChatGPT",
        "  email: user@example.com",
        "  plan: Pro",
        "  account id: acc-123",
        f"  credentials: {path}",
        "  access token: expires in 42 min",
    ]


def test_status_of_an_expired_token_says_it_is_refreshed_on_next_use(tmp_path: Path) -> None:
    expired = datetime.now(UTC) - timedelta(hours=3, minutes=10)
    write_auth(tmp_path, chatgpt_document(expires_at=expired))
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines()[-1] == (
        "  access token: expired 3 h ago; refreshed on next use"
    )


def test_status_names_an_issuer_only_when_it_is_not_the_default(tmp_path: Path) -> None:
    write_login(tmp_path, "rt-1", expires_in=timedelta(hours=5), issuer="https://sso.example.com")
    lines = run_in_process("status", home=tmp_path).stderr.splitlines()
    assert "  issuer: https://sso.example.com" in lines
    assert lines[-1] == "  access token: expires in 4 h"
    write_auth(tmp_path, chatgpt_document())
    lines = run_in_process("status", home=tmp_path).stderr.splitlines()
    assert not any(line.startswith("  issuer:") for line in lines)


def test_status_v_adds_the_refresh_and_the_client(tmp_path: Path) -> None:
    path = write_auth(
        tmp_path, chatgpt_document(plan="pro", expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    )
    result = run_in_process("status", "-v", home=tmp_path)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[0] == "Logged in using ChatGPT"
    assert lines[1:5] == [
        "  email: user@example.com",
        "  plan: Pro",
        "  account id: acc-123",
        "  issuer: https://auth.openai.com",
    ]
    assert lines[5] == f"  credentials: {path}"
    assert lines[6].startswith("  access token: expired ")
    assert lines[6].endswith(" days ago; refreshed on next use")
    assert lines[7:] == [
        "  access token expires at: 2020-01-01T00:00:00Z",
        "  last refresh: 2026-11-28T10:45:43.654531Z",
        "  refresh due: yes",
        "  client id: app_EMoamEEZ73f0CkXaXp7hrann",
    ]


def test_status_of_an_api_key_names_the_store(tmp_path: Path) -> None:
    path = write_auth(tmp_path, API_KEY_FILE)
    result = run_in_process("status", home=tmp_path)
    assert (result.returncode, result.stderr.splitlines()) == (
        0,
        ["API key configured - sk-test-***56789", f"  credentials: {path}"],
    )
    env = clean_env(tmp_path / "empty", OPENAI_API_KEY="sk-env-0123456789")
    assert run_in_process("status", env=env).stderr.splitlines() == [
        "API key configured - sk-env-0***56789",
        "  credentials: OPENAI_API_KEY environment variable",
    ]


def test_status_json_keeps_stderr_to_the_first_line(tmp_path: Path) -> None:
    write_auth(tmp_path, chatgpt_document())
    result = run_in_process("status", "--json", home=tmp_path)
    assert result.stderr == "Logged in using ChatGPT\n"
    assert json.loads(result.stdout)["email"] == "user@example.com"
    verbose = run_in_process("status", "--json", "-v", home=tmp_path)
    assert verbose.stdout == result.stdout
    assert "  email: user@example.com" in verbose.stderr.splitlines()


# -- login says who logged in --------------------------------------------------------


def test_browser_login_says_who_logged_in_and_no_browser_says_to_open_the_url(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    command = ["login", "--no-browser", "--port", "0", "--issuer", issuer.url]
    env = clean_env(home, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID)  # the fake is OpenAI's stand-in
    child, seen = start_until(command, env, lambda _, s: bool(AUTHORIZE_URL.search(s)))
    assert "Open this URL in a browser to sign in:" in seen
    assert "If your browser did not open" not in seen
    url = AUTHORIZE_URL.search(seen).group(1)  # type: ignore[union-attr]
    with urllib.request.urlopen(url, timeout=30) as page:  # the user's browser
        page.read()
    _, rest = child.communicate(timeout=30)
    assert child.returncode == 0, rest
    assert rest.splitlines()[-2:] == [
        "Successfully logged in",
        "Logged in as user@example.com (ChatGPT Plus)",
    ]


def test_a_login_without_an_email_names_the_account_id(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.claims = {"email": None}
    issuer.approve_devices = True
    child, _, _, _ = start_device_login(issuer_env(tmp_path, issuer))
    _, rest = child.communicate(timeout=60)
    assert child.returncode == 0, rest
    assert rest.splitlines()[-2:] == [
        "Successfully logged in",
        "Logged in as acc-123 (ChatGPT Plus)",
    ]


# -- --version, help, and global options after the command ---------------------------


def test_version() -> None:
    result = run_in_process("--version")
    assert (result.returncode, result.stdout) == (0, f"codex-login {version('codex-login')}\n")


def test_help_is_the_top_level_help_or_a_commands() -> None:
    top = run_in_process("help")
    assert (top.returncode, top.stdout) == (0, run_in_process("--help").stdout)
    assert all(command in top.stdout for command in COMMANDS)
    status = run_in_process("help", "status")
    assert (status.returncode, status.stdout) == (0, run_in_process("status", "--help").stdout)
    assert status.stdout.startswith("usage: codex-login status")


def test_help_for_an_unknown_command_is_a_usage_error_listing_the_commands() -> None:
    result = run_in_process("help", "frobnicate")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: codex-login help")
    assert "frobnicate" in result.stderr
    assert all(f"'{command}'" in result.stderr for command in COMMANDS)


@pytest.mark.parametrize("command", sorted(TABLE))  # every command, a new one included
def test_each_command_has_a_description_examples_and_its_environment(command: str) -> None:
    result = run_in_process(command, "--help", env={**clean_env(), "COLUMNS": "80"})
    assert result.returncode == 0
    text = result.stdout
    assert "\nexamples:\n  " in text
    if not getattr(import_module(TABLE[command].module), "NO_CODEX_HOME", None):
        assert "\nenvironment:\n  CODEX_HOME " in text  # what it reads
    assert f"  codex-login {command}" in text.split("examples:")[1]
    description = text.split("\n\n")[1]
    assert len(description.split()) > 25, description  # a paragraph, not the summary
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert wide == [], "lines over 80 columns"


def test_token_help_documents_its_exit_status() -> None:
    text = run_in_process("token", "--help").stdout
    assert "4 a person must log in" in text


def test_codex_home_after_the_command(tmp_path: Path) -> None:
    chosen = write_auth(tmp_path / "chosen", API_KEY_FILE)
    env = clean_env(tmp_path / "ignored")
    after = run_in_process("status", "--codex-home", str(chosen.parent), env=env)
    assert (after.returncode, after.stderr.splitlines()[-1]) == (0, f"  credentials: {chosen}")
    # Given before the command, it is not reset by the command's own copy of the option.
    before = run_in_process("--codex-home", str(chosen.parent), "status", "-v", env=env)
    assert before.stderr == after.stderr
    token = run_in_process("token", "--codex-home", str(chosen.parent), env=env)
    assert (token.returncode, token.stdout) == (0, f"{KEY}\n")


# -- usage errors: the usage of the command they concern -------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--with-api-key", "--device-auth"],
        ["--with-api-key", "--no-browser"],
        ["--with-api-key", "--port", "0"],
        ["--with-api-key", "--issuer", "https://auth.example.com"],
        ["--with-api-key", "--client-id", "app_x"],
        ["--with-api-key", "--timeout", "5"],
        ["--device-auth", "--no-browser"],
        ["--device-auth", "--port", "1455"],
    ],
)
def test_contradictory_login_options_are_usage_errors(tmp_path: Path, options: list[str]) -> None:
    result = run_in_process("login", *options, home=tmp_path, stdin=KEY)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: codex-login login ")
    [message] = [line for line in result.stderr.splitlines() if "error:" in line]
    assert message.startswith(f"codex-login login: error: {options[0]} cannot be combined with")
    assert options[1] in message
    assert not (tmp_path / "auth.json").exists()


def test_an_unknown_option_shows_the_usage_of_its_command(tmp_path: Path) -> None:
    result = run_in_process("status", "--bogus", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: codex-login status ")
    assert "codex-login status: error: unrecognized arguments: --bogus" in result.stderr


def test_a_usage_error_found_while_running_shows_the_usage_of_its_command(
    tmp_path: Path,
) -> None:
    controller, terminal = posix_module("pty").openpty()
    try:
        result = subprocess.run(
            [str(CLI), "import"],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=clean_env(tmp_path),
            timeout=60,
            check=False,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: codex-login import ")
    assert "codex-login import: error: import reads a login from stdin, not a terminal; " in (
        result.stderr
    )


def test_a_key_in_the_arguments_is_refused_without_echoing_it(tmp_path: Path) -> None:
    result = run_in_process("login", "--api-key", KEY, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: codex-login login ")
    assert "leak" in result.stderr
    assert KEY not in result.stderr
    assert not (tmp_path / "auth.json").exists()


def test_the_empty_key_message_says_the_whole_command(tmp_path: Path) -> None:
    result = run_in_process("login", "--with-api-key", home=tmp_path, stdin="\n")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: the API key is empty; pipe it in: "
        "printenv OPENAI_API_KEY | codex-login login --with-api-key\n",
    )


# -- a key typed at a terminal ----------------------------------------------------------


def test_a_key_typed_at_a_terminal_is_hidden_and_stored(tmp_path: Path) -> None:
    code, shown = at_a_terminal(
        ["login", "--with-api-key"], clean_env(tmp_path), f"{KEY}\n".encode()
    )
    assert code == 0, shown
    assert "Paste your OpenAI API key (input is hidden): " in shown
    assert KEY not in shown
    assert "Successfully logged in" in shown
    assert "Traceback" not in shown
    assert json.loads((tmp_path / "auth.json").read_text())["OPENAI_API_KEY"] == KEY


def test_a_terminal_that_is_only_stdin_gets_the_hidden_prompt_too(tmp_path: Path) -> None:
    """No controlling terminal (a new session, as under setsid): the prompt reads stdin."""
    controller, terminal = posix_module("pty").openpty()
    child = subprocess.Popen(
        [str(CLI), "login", "--with-api-key"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        start_new_session=True,
    )
    os.close(terminal)
    try:
        assert child.stderr is not None
        prompt = b""
        deadline = time.monotonic() + 60
        while not prompt.endswith(b"(input is hidden): ") and time.monotonic() < deadline:
            if select.select([child.stderr], [], [], 0.5)[0]:
                prompt += os.read(child.stderr.fileno(), 1)
        assert prompt == b"Paste your OpenAI API key (input is hidden): "
        os.write(controller, f"{KEY}\n".encode())
        _, rest = child.communicate(timeout=60)
        echoed = b""
        while select.select([controller], [], [], 0.2)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: nobody holds the terminal any more
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        child.kill()
        child.wait(timeout=30)
        os.close(controller)
    assert child.returncode == 0, rest
    assert KEY.encode() not in echoed
    assert KEY.encode() not in rest
    assert rest.decode().splitlines() == ["", "Successfully logged in"]
    assert json.loads((tmp_path / "auth.json").read_text())["OPENAI_API_KEY"] == KEY


def test_nothing_typed_at_the_prompt_is_an_empty_key(tmp_path: Path) -> None:
    code, shown = at_a_terminal(["login", "--with-api-key"], clean_env(tmp_path), b"\x04")
    assert code == 1, shown
    assert "the API key is empty" in shown
    assert "Traceback" not in shown
    assert not (tmp_path / "auth.json").exists()


# -- exit codes for scripts ------------------------------------------------------------


def test_token_exits_4_when_not_logged_in(tmp_path: Path) -> None:
    result = run_in_process("token", home=tmp_path / "empty")
    assert (result.returncode, result.stdout) == (4, "")
    # It names where it looked, in order (issue 21): the override, the store, the env key.
    assert result.stderr == (
        f"Error: not logged in: looked for CODEX_API_KEY, {tmp_path / 'empty' / 'auth.json'}, "
        "OPENAI_API_KEY; run `codex-login login`\n"
    )


def test_token_exits_4_when_the_session_ended(tmp_path: Path, issuer: FakeIssuer) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    issuer.refresh_failure = Failure(401, '{"code": "refresh_token_expired"}')
    result = run_in_process("token", env=issuer_env(tmp_path, issuer))
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr.strip().endswith("run `codex-login login` to sign in again")


def test_token_exits_1_when_the_issuer_is_down(tmp_path: Path, issuer: FakeIssuer) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    issuer.refresh_failure = Failure(503, "<html>busy</html>", "text/html")
    result = run_in_process("token", env=issuer_env(tmp_path, issuer))
    assert (result.returncode, result.stdout) == (1, "")


def test_token_exits_1_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    result = run_in_process("token", "--broker", str(tmp_path / "nonexistent"), home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ")


def test_only_token_exits_4(tmp_path: Path) -> None:
    """Other commands keep 1 for the same failure (status: the Codex CLI's codes)."""
    empty = tmp_path / "empty"
    assert run_in_process("status", home=empty).returncode == 1
    exported = run_in_process("export", home=empty)
    assert exported.returncode == 1
    assert "nothing to export" in exported.stderr
