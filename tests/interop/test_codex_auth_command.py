"""The real Codex CLI takes its provider's bearer token from ``codex-login token``.

Codex 0.171 runs ``[model_providers.<id>.auth] command``/``args`` without a shell, trims
its stdout and sends ``Authorization: Bearer <it>``; it caches the token (300 s by
default) and runs the command again once after a 401. Each test points a custom provider
at a loopback Responses API (``responses_api.py``) and runs one ``codex exec`` turn.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from interop.peers.codex_peer import chatgpt_record, clean_stderr, write_auth_json
from interop.peers.responses_api import (
    ResponsesApi,
    SeenRequest,
    run_codex_exec,
    serving_responses_api,
    write_codex_config,
)
from support.broker import running_broker
from support.cli import CLI, run_cli

pytestmark = pytest.mark.interop

DECOY_KEY = "sk-decoy-in-codex-home"  # Codex's own auth.json: never the provider's token


def codex_login_auth_argv(login_home: Path) -> list[str]:
    """The auth command Codex runs to get its token from codex-login.

    Codex exports its own CODEX_HOME to the command, so the login home is named
    explicitly. (Switching to a token broker changes only this line.)
    """
    return [str(CLI), "--codex-home", str(login_home), "token"]


# --------------------------------------------------------------------------- fixtures


@dataclass
class Homes:
    codex: Path  # Codex's CODEX_HOME (config.toml, a decoy auth.json)
    login: Path  # codex-login's credential directory
    work: Path  # Codex's working directory, where the auth command runs


@pytest.fixture
def homes(tmp_path: Path) -> Homes:
    made = Homes(tmp_path / "codex", tmp_path / "login", tmp_path / "work")
    for path in (made.codex, made.login, made.work):
        path.mkdir()
    made.login.chmod(0o700)
    write_auth_json(made.codex, {"auth_mode": "apikey", "OPENAI_API_KEY": DECOY_KEY})
    return made


@pytest.fixture
def api() -> Iterator[ResponsesApi]:
    with serving_responses_api() as served:
        yield served


@dataclass
class TokenScript:
    """A tiny auth command: run N prints ``tokens[N-1]`` (the last one from then on),
    padded with blanks, and logs its argv, cwd and CODEX_HOME to ``runs.jsonl``."""

    path: Path
    log: Path

    @classmethod
    def write(cls, folder: Path, tokens: list[str]) -> TokenScript:
        folder.mkdir()
        path, log = folder / "print-token", folder / "runs.jsonl"
        path.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            f"log, tokens = {str(log)!r}, {tokens!r}\n"
            "runs = len(open(log).readlines()) if os.path.exists(log) else 0\n"
            "with open(log, 'a') as out:\n"
            "    seen = {'argv': sys.argv[1:], 'cwd': os.getcwd(),\n"
            "            'codex_home': os.environ.get('CODEX_HOME')}\n"
            "    out.write(json.dumps(seen) + '\\n')\n"
            "print('  ' + tokens[min(runs, len(tokens) - 1)] + '  ')\n",
            encoding="utf-8",
        )
        path.chmod(0o755)
        return cls(path, log)

    def runs(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def assert_turn_finished(result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 and the assistant's "hi" as the final message on stdout."""
    assert result.returncode == 0, clean_stderr(result.stderr)
    assert result.stdout.strip() == "hi", (result.stdout, clean_stderr(result.stderr))


def api_key_login(login_home: Path, key: str) -> None:
    """``codex-login --codex-home DIR login --with-api-key`` with ``key`` on stdin."""
    done = run_cli("--codex-home", str(login_home), "login", "--with-api-key", stdin=key)
    assert done.returncode == 0, done.stderr


def codex_login_token(login_home: Path) -> str:
    """What ``codex-login --codex-home DIR token`` prints, trimmed as Codex trims it."""
    done = run_cli("--codex-home", str(login_home), "token")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def fresh_chatgpt_login(login_home: Path) -> str:
    """A ChatGPT record whose access token is good for an hour; returns that token."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    record = chatgpt_record(last_refresh=now)
    write_auth_json(login_home, record)
    token: str = record["tokens"]["access_token"]
    return token


# --------------------------------------------------------------------------- a script


def test_codex_sends_the_token_the_command_prints(
    codex: Path, homes: Homes, api: ResponsesApi, tmp_path: Path
) -> None:
    script = TokenScript.write(tmp_path / "script", ["tok-from-command"])
    # Arguments a shell would split or expand arrive verbatim: there is no shell.
    args = ["two words", "$HOME", "*"]
    write_codex_config(homes.codex, api, [str(script.path), *args])

    result = run_codex_exec(codex, homes.codex, homes.work)

    assert_turn_finished(result)
    assert api.bearers(model_calls_only=True) == ["tok-from-command"]
    # The model list was fetched with the same cached token: one run for the whole turn.
    assert set(api.bearers()) == {"tok-from-command"}
    assert [run["argv"] for run in script.runs()] == [args]
    (run,) = script.runs()
    assert run["cwd"] == str(homes.work)
    assert run["codex_home"] == str(homes.codex)


def test_codex_runs_the_command_again_after_a_401(
    codex: Path, homes: Homes, tmp_path: Path
) -> None:
    script = TokenScript.write(tmp_path / "script", ["tok-first", "tok-second"])
    with serving_responses_api(ResponsesApi(refuse_first=1)) as api:
        write_codex_config(homes.codex, api, [str(script.path)])
        result = run_codex_exec(codex, homes.codex, homes.work)

    assert_turn_finished(result)
    calls = api.model_calls()
    assert [(call.bearer, call.status) for call in calls] == [
        ("tok-first", 401),
        ("tok-second", 200),
    ]
    assert len(script.runs()) == 2


# --------------------------------------------------------------------------- codex-login


@pytest.mark.parametrize("kind", ["api-key", "chatgpt"])
def test_codex_gets_its_token_from_codex_login_token(
    codex: Path, homes: Homes, api: ResponsesApi, kind: str
) -> None:
    if kind == "api-key":
        api_key_login(homes.login, "sk-test-from-codex-login")
        stored = "sk-test-from-codex-login"
    else:
        stored = fresh_chatgpt_login(homes.login)
    expected = codex_login_token(homes.login)
    assert expected == stored
    write_codex_config(homes.codex, api, codex_login_auth_argv(homes.login))

    result = run_codex_exec(codex, homes.codex, homes.work)

    assert_turn_finished(result)
    assert api.bearers(model_calls_only=True) == [expected]
    assert set(api.bearers()) == {expected}  # never DECOY_KEY from Codex's own home


def test_codex_gets_the_new_login_from_codex_login_after_a_401(codex: Path, homes: Homes) -> None:
    api_key_login(homes.login, "sk-test-old-key")

    def log_in_again(_: SeenRequest) -> None:
        # Runs before the 401 is sent: between the command's first and second run.
        api_key_login(homes.login, "sk-test-new-key")

    refusing = ResponsesApi(refuse_first=1, before_refusal=log_in_again)
    with serving_responses_api(refusing) as api:
        write_codex_config(homes.codex, api, codex_login_auth_argv(homes.login))
        result = run_codex_exec(codex, homes.codex, homes.work)

    assert_turn_finished(result)
    calls = api.model_calls()
    assert [(call.bearer, call.status) for call in calls] == [
        ("sk-test-old-key", 401),
        ("sk-test-new-key", 200),
    ]
    assert codex_login_token(homes.login) == "sk-test-new-key"


def test_codex_sends_no_token_when_codex_login_has_no_login(
    codex: Path, homes: Homes, api: ResponsesApi
) -> None:
    # codex-login exits 1 ("not logged in"): Codex logs it and calls the API anonymously.
    write_codex_config(homes.codex, api, codex_login_auth_argv(homes.login))

    result = run_codex_exec(codex, homes.codex, homes.work)

    assert result.returncode == 1, clean_stderr(result.stderr)
    assert api.model_calls(), "Codex never called the model"
    assert set(api.bearers()) == {None}
    assert "provider auth command" in result.stderr
    assert "not logged in" in result.stderr


# --------------------------------------------------------------------------- a broker


def broker_auth_argv(socket_path: Path) -> list[str]:
    """The auth command of a sandboxed Codex: ask the host's broker, hold no login."""
    return [str(CLI), "token", "--broker", str(socket_path)]


def test_codex_gets_the_brokers_current_token(codex: Path, homes: Homes, api: ResponsesApi) -> None:
    expected = fresh_chatgpt_login(homes.login)
    with running_broker(homes.login) as broker:
        assert broker.socket is not None
        write_codex_config(homes.codex, api, broker_auth_argv(broker.socket))
        result = run_codex_exec(codex, homes.codex, homes.work)
    assert_turn_finished(result)
    assert api.bearers(model_calls_only=True) == [expected]
    assert set(api.bearers()) == {expected}


def test_codex_runs_the_broker_command_again_after_a_401(codex: Path, homes: Homes) -> None:
    api_key_login(homes.login, "sk-test-broker-old")

    def log_in_again(_: SeenRequest) -> None:
        # On the host, between Codex's two runs of the command: a new login.
        api_key_login(homes.login, "sk-test-broker-new")

    with (
        running_broker(homes.login) as broker,
        serving_responses_api(ResponsesApi(refuse_first=1, before_refusal=log_in_again)) as api,
    ):
        assert broker.socket is not None
        write_codex_config(homes.codex, api, broker_auth_argv(broker.socket))
        result = run_codex_exec(codex, homes.codex, homes.work)
    assert_turn_finished(result)
    assert [(call.bearer, call.status) for call in api.model_calls()] == [
        ("sk-test-broker-old", 401),
        ("sk-test-broker-new", 200),
    ]
