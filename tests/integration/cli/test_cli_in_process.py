"""The commands called in-process with a fake IO (as cli/cli's token_test.go does):
no child process, the real store in a temporary CODEX_HOME, the real fake issuer.

Also what a newcomer tripped over (issue 22, item 6): a bare ``codex-login``, an
unknown option alone, a mistyped command, ``refresh``, and ``login`` without a
graphical browser.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login.entrypoints.cli import main, status
from codex_login.entrypoints.cli.io import FakeIO
from codex_login.entrypoints.cli.wiring import Factory
from codex_login.entrypoints.settings import Settings
from support.cli import AUTHORIZE_URL, clean_env, start_until
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored, write_login

KEY = "sk-test-123456789"
API_KEY_FILE = json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY})

Environ = Callable[[dict[str, str]], None]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Environ:
    """Make ``env`` the process's environment for this test (the CLI reads it once)."""

    def use(env: dict[str, str]) -> None:
        for key in list(os.environ):
            if key not in env:
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CODEX_LOGIN_DUMPABLE", "1")  # leave pytest's process as it was

    return use


@pytest.fixture
def home(tmp_path: Path, environ: Environ) -> Path:
    environ(clean_env(tmp_path / "codex"))
    return tmp_path / "codex"


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


def api_key_login(home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "auth.json").write_text(API_KEY_FILE)


def run(*argv: str, stdin: bytes = b"", stdout_tty: bool = False) -> tuple[int, FakeIO]:
    io = FakeIO(stdin, stdout_tty=stdout_tty)
    try:
        code = main(list(argv), io)
    except SystemExit as exc:  # argparse: help, version, usage errors
        code = exc.code if isinstance(exc.code, int) else 0
    return code, io


# -- commands in-process ------------------------------------------------------------


def test_status_run_with_options_and_a_fake_io(home: Path) -> None:
    api_key_login(home)
    io = FakeIO()
    factory = Factory(Settings.from_environ(), None, io)
    assert status.run(status.Options(), io, factory) == 0
    assert io.err().splitlines()[0] == "API key configured - sk-test-***56789"
    assert io.out() == ""


def test_status_not_logged_in_exits_1(home: Path) -> None:
    code, io = run("status")
    assert (code, io.err(), io.out()) == (1, "Not logged in\n", "")


def test_token_prints_the_key_alone(home: Path) -> None:
    api_key_login(home)
    code, io = run("token")
    assert (code, io.out(), io.err()) == (0, f"{KEY}\n", "")


def test_token_without_a_login_exits_4(home: Path) -> None:
    code, io = run("token")
    assert code == 4
    assert io.err().startswith("Error: not logged in: looked for ")


def test_accounts_json_lists_the_active_login(home: Path) -> None:
    api_key_login(home)
    code, io = run("accounts", "--json")
    assert code == 0
    [account] = json.loads(io.out())["accounts"]
    assert (account["active"], account["mode"]) == (True, "apikey")


def test_export_move_then_import_hands_the_login_over(home: Path, tmp_path: Path) -> None:
    api_key_login(home)
    code, exported = run("export", "--move")
    assert code == 0
    assert not (home / "auth.json").exists()
    code, imported = run(
        "--codex-home", str(tmp_path / "other"), "import", stdin=exported.out().encode()
    )
    assert code == 0
    assert json.loads((tmp_path / "other" / "auth.json").read_text())["OPENAI_API_KEY"] == KEY
    assert imported.err().startswith("Imported the login into ")


def test_export_refuses_a_terminal(home: Path) -> None:
    api_key_login(home)
    code, io = run("export", stdout_tty=True)
    assert code == 2
    assert "export refuses to write a live credential to a terminal" in io.err()
    assert (home / "auth.json").exists()


def test_help_is_on_the_fake_stdout(home: Path) -> None:
    code, io = run("help", "token")
    assert code == 0
    assert io.out().startswith("usage: codex-login token ")


# -- what a newcomer tripped over ---------------------------------------------------


def test_a_bare_codex_login_prints_the_help(home: Path) -> None:
    code, io = run()
    assert code == 2  # still a usage error: a script that forgot its command fails
    assert io.err().startswith("usage: codex-login ")
    assert "    status          show how you are logged in\n" in io.err()
    assert "required" not in io.err()


def test_the_demo_given_a_codex_home_says_it_does_not_use_one(home: Path) -> None:
    code, io = run("demo", "--codex-home", str(home))
    assert code == 2
    assert io.err().splitlines()[-1] == (
        "codex-login demo: error: --codex-home is not for this command: the demo's login "
        "lives in a temporary CODEX_HOME, removed at the end; leave it out"
    )
    assert io.out() == ""


def test_an_unknown_option_alone_is_named(home: Path) -> None:
    code, io = run("--bogus")
    assert code == 2
    assert io.err().endswith("codex-login: error: unrecognized arguments: --bogus\n")


def test_a_mistyped_command_gets_did_you_mean(home: Path) -> None:
    code, io = run("stauts")
    assert code == 2
    assert io.err().rstrip().endswith("did you mean 'status'?")
    code, io = run("help", "tokne")
    assert (code, io.err().rstrip().endswith("did you mean 'token'?")) == (2, True)


def test_refresh_forces_a_refresh_of_a_fresh_token(
    tmp_path: Path, environ: Environ, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    environ(issuer_env(home, issuer))
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
    before = stored(home)["tokens"]
    code, io = run("refresh")
    assert (code, io.out(), io.err()) == (0, "", "Refreshed the access token\n")
    after = stored(home)["tokens"]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]


def test_refresh_right_after_a_refresh_keeps_the_token(
    tmp_path: Path, environ: Environ, issuer: FakeIssuer
) -> None:
    """Tokens younger than the refresh policy's minimum age are returned as they are."""
    home = tmp_path / "codex"
    environ(issuer_env(home, issuer))
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
    assert run("refresh")[0] == 0
    refreshed = stored(home)["tokens"]
    code, io = run("refresh")
    assert code == 0
    assert io.err().startswith("Kept the access token as it is: it is younger than ")
    assert stored(home)["tokens"] == refreshed


def test_refresh_print_token_prints_the_new_token(
    tmp_path: Path, environ: Environ, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    environ(issuer_env(home, issuer))
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
    code, io = run("refresh", "--print-token")
    assert code == 0
    assert io.out() == stored(home)["tokens"]["access_token"] + "\n"


def test_refresh_of_an_api_key_changes_nothing(home: Path) -> None:
    api_key_login(home)
    code, io = run("refresh")
    assert (code, io.err()) == (0, "Nothing to refresh: the login is an API key\n")
    assert (home / "auth.json").read_text() == API_KEY_FILE


def test_refresh_without_a_login_exits_4_as_token_does(home: Path) -> None:
    code, io = run("refresh")
    assert code == 4
    assert io.err().startswith("Error: not logged in: looked for ")


# -- a process: login waits for its browser -----------------------------------------


def test_login_without_a_graphical_browser_says_open_this_url(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    runtime = tmp_path / "run"  # where the login claims its port (see port_claims.py)
    runtime.mkdir(mode=0o700)
    env = {**issuer_env(tmp_path / "codex", issuer), "XDG_RUNTIME_DIR": str(runtime)}
    for display in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(display, None)
    child, seen = start_until(
        ["login", "--port", "0"], env, lambda line, _: line.startswith("On a remote")
    )
    try:
        assert "Open this URL in a browser to sign in:" in seen
        assert "If your browser did not open" not in seen
        assert AUTHORIZE_URL.search(seen) is not None
        assert len(list(runtime.iterdir())) == 1
    finally:
        child.send_signal(signal.SIGINT)  # as the user leaves it: Ctrl-C
        try:
            child.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # it ignored Ctrl-C: never leave it running
            child.kill()
            child.communicate()
            raise
    assert child.returncode == 130
    assert list(runtime.iterdir()) == []  # the abandoned login took its claim with it


# -- the command table ---------------------------------------------------------------


def test_the_top_level_help_loads_no_commands_module() -> None:
    """`codex-login --help` lists the commands from the table, importing none of them."""
    script = (
        "import sys\n"
        "from codex_login.entrypoints.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "from codex_login.entrypoints.cli.table import COMMANDS\n"
        "print([c.module for c in COMMANDS.values() if c.module in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "    refresh         refresh the ChatGPT tokens now, due or not\n" in result.stdout
    assert result.stderr == "[]\n"


def test_bash_completion_completes_commands_and_their_options(home: Path) -> None:
    code, io = run("completion", "bash")
    assert code == 0
    complete = (
        'source /dev/stdin; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _codex_login; '
        'echo "${COMPREPLY[*]}"'
    )

    def completions(*words: str) -> str:
        return subprocess.run(
            ["bash", "-c", complete, "bash", *words],
            input=io.out(),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    assert completions("codex-login", "--codex-home", "/x", "sta") == "status"
    assert completions("codex-login", "token", "--b") == "--broker"
    assert completions("codex-login", "completion", "f") == "fish"


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_name_every_command(home: Path, shell: str) -> None:
    code, io = run("completion", shell)
    assert code == 0
    for name in ("login", "status", "token", "refresh", "switch", "completion"):
        assert name in io.out()
