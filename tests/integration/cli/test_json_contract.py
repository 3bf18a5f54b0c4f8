"""The versioned JSON contract (issue 26, item 1): every ``--json`` document carries
``"version": 1`` and validates against the JSON Schema the package ships; under
``--json`` a failure is a document too, its code the error kind's, its exit code the
command's usual one.

Real output only: the commands run in-process with a fake IO (one child process per
document at the end), over real files, the fake issuer, a real broker and a real lock.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from codex_login.entrypoints.bootstrap import bootstrap
from support.broker import broker_in_thread
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import Failure, FakeIssuer
from support.locks import lock_held_elsewhere
from support.logins import issuer_env, write_login
from support.schemas import schema, validated

KEY = "sk-test-json-contract-0123456789"
SCHEMAS = ("token", "status", "accounts", "doctor", "error", "exec-credential")


def valid(name: str, text: str) -> dict[str, Any]:
    """The document ``text``, checked against its schema; every key it has is one the
    schema documents (the schemas let new keys come; our own output must name them)."""
    document = validated(name, text)
    contract = schema(name)
    branches = [contract, *contract.get("$defs", {}).values()]
    documented = [set(branch.get("properties", {})) for branch in branches]
    assert any(set(document) <= keys for keys in documented if keys), sorted(document)
    return document


def failed(name: str, result: Any, code: str, exit_code: int) -> dict[str, Any]:
    """A ``--json`` failure: the error document on stdout, the usual line on stderr."""
    assert result.returncode == exit_code, result.stderr
    error: dict[str, Any] = valid("error", result.stdout)["error"]
    assert error["code"] == code, error
    [line] = result.stderr.splitlines()
    assert line.startswith("Error")
    assert error["message"] in line
    assert error["action"] is None or error["action"] in line
    return error


def api_key(home: Path) -> None:
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY}))
    (home / "auth.json").chmod(0o600)


def chatgpt(home: Path, issuer: FakeIssuer, expires_in: timedelta = timedelta(hours=1)) -> None:
    write_login(home, issuer.new_refresh_token(), expires_in=expires_in, issuer=issuer.url)


@pytest.fixture
def broker(tmp_path: Path, home: Path, codex_fake_issuer: FakeIssuer) -> Iterator[Path]:
    """A broker serving a ChatGPT login; the path of its socket."""
    chatgpt(home, codex_fake_issuer)
    service = bootstrap(codex_home=home, issuer=codex_fake_issuer.url, environ={})
    with broker_in_thread(service, tmp_path / "broker.sock") as served:
        yield served.socket


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox"  # no login of its own
    path.mkdir(mode=0o700)
    return path


# -- the schemas -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_ships_with_the_package_and_is_a_2020_12_schema(name: str) -> None:
    contract = schema(name)
    assert contract["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contract)


# -- token and refresh, for every kind of login ------------------------------------------


def test_token_json_of_an_api_key(home: Path) -> None:
    api_key(home)
    result = run_in_process("token", "--json", home=home)
    document = valid("token", result.stdout)
    assert (document["version"], document["mode"], document["token"]) == (1, "apikey", KEY)
    assert document["expires_at"] is None


def test_token_json_of_a_chatgpt_login(home: Path, codex_fake_issuer: FakeIssuer) -> None:
    chatgpt(home, codex_fake_issuer)
    result = run_in_process("token", "--json", env=issuer_env(home, codex_fake_issuer))
    document = valid("token", result.stdout)
    assert (document["version"], document["mode"]) == (1, "chatgpt")
    assert document["headers"]["Authorization"] == f"Bearer {document['token']}"


def test_refresh_json_is_the_token_document(home: Path, codex_fake_issuer: FakeIssuer) -> None:
    chatgpt(home, codex_fake_issuer)
    result = run_in_process("refresh", "--json", env=issuer_env(home, codex_fake_issuer))
    assert result.returncode == 0, result.stderr
    assert valid("token", result.stdout)["version"] == 1
    assert len(codex_fake_issuer.posts("refresh_token")) == 1


def test_token_json_from_a_broker(broker: Path, sandbox: Path) -> None:
    result = run_in_process("token", "--json", "--broker", str(broker), home=sandbox)
    assert result.returncode == 0, result.stderr
    document = valid("token", result.stdout)
    assert (document["version"], document["mode"]) == (1, "chatgpt")


# -- status -------------------------------------------------------------------------------


def test_status_json_of_each_kind_of_login(home: Path, codex_fake_issuer: FakeIssuer) -> None:
    assert valid("status", run_in_process("status", "--json", home=home).stdout) == {
        "version": 1,
        "logged_in": False,
    }
    api_key(home)
    printed = run_in_process("status", "--json", home=home).stdout
    document = valid("status", printed)
    assert (document["version"], document["mode"]) == (1, "apikey")
    assert KEY not in printed  # masked
    chatgpt(home, codex_fake_issuer)
    env = issuer_env(home, codex_fake_issuer)
    document = valid("status", run_in_process("status", "--json", env=env).stdout)
    assert (document["version"], document["mode"], document["logged_in"]) == (1, "chatgpt", True)


def test_status_json_of_a_login_the_policy_refuses(home: Path) -> None:
    api_key(home)
    (home / "config.toml").write_text('forced_login_method = "chatgpt"\n')
    result = run_in_process("status", "--json", home=home)
    assert result.returncode == 1
    document = valid("status", result.stdout)
    assert (document["logged_in"], "API key login is disabled" in document["refused"]) == (
        False,
        True,
    )


def test_status_json_in_a_sandbox(broker: Path, sandbox: Path) -> None:
    env = clean_env(sandbox, CODEX_LOGIN_BROKER=str(broker))
    result = run_in_process("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = valid("status", result.stdout)
    assert (document["version"], document["broker"]) == (1, str(broker))


# -- accounts -----------------------------------------------------------------------------


def test_accounts_json_is_an_object_with_a_version(
    home: Path, codex_fake_issuer: FakeIssuer
) -> None:
    """A bare list could carry no version: the list is the value of ``accounts``."""
    assert valid("accounts", run_in_process("accounts", "--json", home=home).stdout) == {
        "version": 1,
        "accounts": [],
    }
    chatgpt(home, codex_fake_issuer)
    document = valid("accounts", run_in_process("accounts", "--json", home=home).stdout)
    [account] = document["accounts"]
    assert (account["active"], account["mode"]) == (True, "chatgpt")


# -- failures: the error document, the code of the kind, the exit code unchanged ---------


def test_no_login_is_login_required_and_exits_4(home: Path) -> None:
    error = failed("token", run_in_process("token", "--json", home=home), "login_required", 4)
    assert error["action"] == "run `codex-login login`"


def test_an_ended_session_is_session_ended(home: Path, codex_fake_issuer: FakeIssuer) -> None:
    chatgpt(home, codex_fake_issuer, expires_in=timedelta(minutes=1))
    codex_fake_issuer.refresh_failure = Failure(400, '{"error": "invalid_grant"}')
    result = run_in_process("token", "--json", env=issuer_env(home, codex_fake_issuer))
    error = failed("token", result, "session_ended", 4)
    assert error["action"] == "run `codex-login login` to sign in again"
    assert "rt-" not in result.stdout  # no token of the stored login in the document


def test_a_login_the_policy_refuses_is_policy_refused(home: Path) -> None:
    api_key(home)
    (home / "config.toml").write_text('forced_login_method = "chatgpt"\n')
    result = run_in_process("token", "--json", home=home)
    failed("token", result, "policy_refused", 4)
    assert KEY not in result.stdout + result.stderr


def test_an_issuer_that_does_not_answer_is_issuer_unreachable(home: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    write_login(home, "rt-unreachable", expires_in=timedelta(minutes=1), issuer=url)
    env = issuer_env(home, FakeIssuer()) | {"CODEX_LOGIN_ISSUER": url}
    failed("token", run_in_process("token", "--json", env=env), "issuer_unreachable", 1)


def test_a_lock_held_elsewhere_is_lock_timeout(home: Path, codex_fake_issuer: FakeIssuer) -> None:
    chatgpt(home, codex_fake_issuer, expires_in=timedelta(minutes=1))  # due: it must lock
    env = issuer_env(home, codex_fake_issuer) | {"CODEX_LOGIN_LOCK_TIMEOUT": "0.3"}
    with lock_held_elsewhere(home / "auth.lock"):
        result = run_in_process("token", "--json", env=env)
    error = failed("token", result, "lock_timeout", 1)
    assert "CODEX_LOGIN_LOCK_TIMEOUT" in error["message"]


def test_a_store_that_cannot_be_read_is_store_unavailable(home: Path) -> None:
    (home / "auth.json").mkdir()  # not a file: nothing to read
    failed("token", run_in_process("token", "--json", home=home), "store_unavailable", 1)


def test_a_malformed_auth_json_is_malformed_credentials(home: Path) -> None:
    (home / "auth.json").write_text("{not json")
    error = failed(
        "token", run_in_process("token", "--json", home=home), "malformed_credentials", 4
    )
    assert error["action"] == "fix it or run `codex-login login` to replace it"
    # status keeps the Codex CLI's exit codes, and says it as a document too
    failed("status", run_in_process("status", "--json", home=home), "malformed_credentials", 1)


def test_an_action_said_in_parentheses_in_the_line_is_bare_in_the_document(home: Path) -> None:
    api_key(home)
    result = run_in_process("token", "--json", "--account", "nobody-here", home=home)
    error = failed("token", result, "account_not_found", 1)
    assert error["action"] == "see `codex-login accounts`"
    assert "(see `codex-login accounts`)" in result.stderr


def test_a_login_of_a_newer_tool_is_unsupported_login(home: Path) -> None:
    (home / "auth.json").write_text(json.dumps({"auth_mode": "agent-identity-v9"}))
    failed("token", run_in_process("token", "--json", home=home), "unsupported_login", 4)


def test_a_broker_that_does_not_answer_is_broker_unreachable(sandbox: Path) -> None:
    gone = sandbox / "no-broker.sock"
    result = run_in_process("token", "--json", "--broker", str(gone), home=sandbox)
    error = failed("token", result, "broker_unreachable", 1)
    assert error["action"] == "start `codex-login serve` on the host, or fix CODEX_LOGIN_BROKER"


def test_accounts_in_a_sandbox_says_where_they_are_as_a_document(
    broker: Path, sandbox: Path
) -> None:
    env = clean_env(sandbox, CODEX_LOGIN_BROKER=str(broker))
    result = run_in_process("accounts", "--json", env=env)
    assert result.returncode == 1
    error = valid("error", result.stdout)["error"]
    assert (error["code"], error["action"]) == (
        "brokered",
        "run `codex-login accounts` on the broker's host",
    )
    assert error["message"] in result.stderr


def test_without_json_a_failure_prints_nothing_on_stdout(home: Path) -> None:
    result = run_in_process("token", home=home)
    assert (result.returncode, result.stdout) == (4, "")


def test_a_usage_error_under_json_is_no_document_and_exits_2(home: Path) -> None:
    """The command line itself is wrong: argparse's usage on stderr, stdout empty."""
    for args in (["token", "--json", "--bogus"], ["status", "--json", "--account"]):
        result = run_in_process(*args, home=home)
        assert (result.returncode, result.stdout) == (2, "")
        assert "usage: codex-login" in result.stderr


# -- one child process per document ------------------------------------------------------


def test_the_installed_command_prints_each_document(
    home: Path, codex_fake_issuer: FakeIssuer
) -> None:
    missing = run_cli("token", "--json", home=home / "none")
    assert failed("error", missing, "login_required", 4)["code"] == "login_required"
    chatgpt(home, codex_fake_issuer)
    env = issuer_env(home, codex_fake_issuer)
    for command, name in (("token", "token"), ("status", "status"), ("accounts", "accounts")):
        result = run_cli(command, "--json", env=env)
        assert result.returncode == 0, result.stderr
        assert valid(name, result.stdout)["version"] == 1
    result = run_cli("token", "--format", "exec-credential", env=env)
    assert valid("exec-credential", result.stdout)["kind"] == "ExecCredential"
