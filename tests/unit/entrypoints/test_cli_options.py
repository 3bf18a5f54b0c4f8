"""Each command's flags become its frozen Options value (cli/cli's token_test.go
captures the options the same way): parsed by the command's own parser, no process."""

from __future__ import annotations

import argparse
from importlib import import_module
from pathlib import Path

import pytest

from codex_login.entrypoints.cli import login, main, serve, token
from codex_login.entrypoints.cli.errors import UsageError
from codex_login.entrypoints.cli.io import FakeIO
from codex_login.entrypoints.cli.parser import build
from codex_login.entrypoints.cli.table import COMMANDS


def parsed(*argv: str) -> argparse.Namespace:
    parser, _ = build()
    args, unknown = parser.parse_known_args(list(argv))
    assert unknown == []
    return args


def test_token_flags_become_its_options() -> None:
    args = parsed("token", "--json", "--broker", "/run/broker.sock", "--account", "work")
    assert token.options(args) == token.Options(
        json=True, broker="/run/broker.sock", account="work"
    )


def test_a_command_given_alone_runs_with_the_options_its_parser_gives() -> None:
    """`codex-login status` and `token` alone skip argparse (dispatch): with ALONE, which
    must be what the parser makes of the command with no argument."""
    modules = {name: import_module(command.module) for name, command in COMMANDS.items()}
    alone = {name: module for name, module in modules.items() if hasattr(module, "ALONE")}
    assert sorted(alone) == ["status", "token"]
    parsed_alone = {name: module.options(parsed(name)) for name, module in alone.items()}
    assert parsed_alone == {name: module.ALONE for name, module in alone.items()}


def test_login_flags_become_its_options() -> None:
    args = parsed("-v", "login", "--device-auth", "--timeout", "30")
    assert login.options(args) == login.Options(device_auth=True, timeout=30.0, verbose=True)
    assert login.login_words(login.options(args)) == "codex-login login --device-auth"


def test_serve_collects_repeated_uids_into_a_tuple() -> None:
    args = parsed("serve", "--allow-uid", "1000", "--allow-uid", "1001", "--socket", "/s")
    assert serve.options(args) == serve.Options(socket=Path("/s"), allow_uids=(1000, 1001))


def test_serve_takes_a_client_keys_file_beside_the_secret_file() -> None:
    args = parsed("serve", "--tcp", "8765", "--client-keys", "/k", "--secret-file", "/s")
    assert serve.options(args) == serve.Options(
        tcp=8765, client_keys=Path("/k"), secret_file=Path("/s")
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ("login", "--with-api-key", "--port", "1"),
            "--with-api-key cannot be combined with --port",
        ),
        (("login", "--device-auth", "--no-browser"), "--device-auth cannot be combined with"),
        (("login", "--api-key", "sk-x"), "--api-key is refused"),
    ],
)
def test_contradictory_login_flags_are_refused_when_options_are_built(
    argv: tuple[str, ...], words: str
) -> None:
    with pytest.raises(UsageError, match=words):
        login.options(parsed(*argv))


@pytest.mark.parametrize(
    "argv",
    [
        ("--codex-home", "/h", "demo"),
        ("demo", "--codex-home", "/h"),
        ("completion", "bash", "--codex-home", "/h"),
    ],
)
def test_a_command_that_reads_no_login_refuses_codex_home(argv: tuple[str, ...]) -> None:
    """Ignoring it would let the user believe the demo ran in that directory."""
    [name] = [word for word in argv if word in COMMANDS]
    io = FakeIO()
    with pytest.raises(SystemExit) as exited:
        main(list(argv), io)
    assert exited.value.code == 2
    assert f"codex-login {name}: error: --codex-home is not for this command: " in io.err()


def test_demo_and_completion_take_their_options_without_codex_home() -> None:
    demo, completion = (import_module(COMMANDS[name].module) for name in ("demo", "completion"))
    assert demo.options(parsed("demo", "--json")) == demo.Options(json=True)
    assert completion.options(parsed("completion", "zsh")).shell == "zsh"


def test_only_the_commands_that_read_a_login_offer_codex_home() -> None:
    """The two that refuse it keep it out of their help (and so out of completion)."""
    _, commands = build()
    offered = {name for name in COMMANDS if "--codex-home DIR" in commands[name].format_help()}
    assert sorted(set(COMMANDS) - offered) == ["completion", "demo"]
