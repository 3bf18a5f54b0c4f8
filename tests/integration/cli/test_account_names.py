"""Telling logins apart, as a new user meets them: `login` says when it keeps the previous
login as an account, and `accounts` shows on each line what tells one login from another
(the masked key, the email and workspace), naming each kind in the Codex CLI's words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from codex_login.entrypoints.cli.io import FakeIO
from support.cli import (
    DEVICE_CODE,
    browser_login_in_process,
    clean_env,
    run_in_process,
    start_browser_login,
)
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env
from support.redirects import redirected
from support.waiting import wait_until

FIRST_KEY = "sk-proj-first-0123456789abcde"
SECOND_KEY = "sk-proj-second-9876543210vwxyz"
ALICE = {"email": "alice@example.com", "account_id": "ws-alice"}
WHOAMI = "/api/accounts/v1/user-auth-credential/whoami"
KEPT_API_KEY = (
    "The previous login is kept as account api-key; `codex-login switch api-key` goes back"
)


def api_key_login(home: Path, key: str, env: dict[str, str] | None = None) -> str:
    result = run_in_process(
        "login", "--with-api-key", home=home, stdin=key, env=env or clean_env(home)
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def accounts(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_in_process("accounts", *args, home=home, env=env or clean_env(home))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_second_api_key_says_it_keeps_the_first_as_an_account(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    assert api_key_login(home, FIRST_KEY) == "Successfully logged in\n"
    said = api_key_login(home, SECOND_KEY)
    assert said.splitlines() == [
        "Successfully logged in",
        "The previous login is kept as account api-key; `codex-login switch api-key` goes back",
    ]


def test_accounts_tells_two_api_keys_apart_by_their_masked_keys(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    api_key_login(home, FIRST_KEY)
    api_key_login(home, SECOND_KEY)
    listed = accounts(home)
    assert listed.splitlines() == [
        "  api-key  API key sk-proj-***abcde",
        "* api-key-2  API key sk-proj-***vwxyz",
    ]
    assert FIRST_KEY not in listed
    assert SECOND_KEY not in listed


def test_accounts_json_carries_the_masked_key_and_the_kind_never_the_key(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    api_key_login(home, FIRST_KEY)
    api_key_login(home, SECOND_KEY)
    printed = accounts(home, "--json")
    assert FIRST_KEY not in printed
    assert SECOND_KEY not in printed
    assert [
        (a["name"], a["kind"], a["api_key"], a["active"]) for a in json.loads(printed)["accounts"]
    ] == [
        ("api-key", "API key", "sk-proj-***abcde", False),
        ("api-key-2", "API key", "sk-proj-***vwxyz", True),
    ]


def test_logging_in_again_with_the_same_key_parks_nothing_and_says_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "codex"
    api_key_login(home, FIRST_KEY)
    assert api_key_login(home, FIRST_KEY) == "Successfully logged in\n"
    assert accounts(home).splitlines() == ["* api-key  API key sk-proj-***abcde"]


def test_a_chatgpt_login_says_it_keeps_the_api_key_and_lists_who_it_is(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    env = issuer_env(home, issuer)
    api_key_login(home, FIRST_KEY, env)
    issuer.claims = dict(ALICE)
    result = browser_login_in_process(env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "The previous login is kept as account api-key; `codex-login switch api-key` goes back"
    )
    assert accounts(home, env=env).splitlines() == [
        "* alice  alice@example.com  ChatGPT Pro  ws-alice  " + issuer.url,
        "  api-key  API key sk-proj-***abcde",
    ]
    document = json.loads(accounts(home, "--json", env=env))["accounts"]
    assert [(a["name"], a["kind"], a["email"], a["workspace_id"]) for a in document] == [
        ("alice", "ChatGPT", "alice@example.com", "ws-alice"),
        ("api-key", "API key", None, None),
    ]


def access_token_env(home: Path, issuer: FakeIssuer) -> dict[str, str]:
    return {**issuer_env(home, issuer), "CODEX_AUTHAPI_BASE_URL": issuer.authapi_base_url}


def access_token_login(home: Path, issuer: FakeIssuer, token: str) -> list[str]:
    env = access_token_env(home, issuer)
    result = run_in_process("login", "--with-access-token", stdin=token, env=env)
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_an_access_token_login_says_it_keeps_the_api_key(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    api_key_login(home, FIRST_KEY, access_token_env(home, issuer))
    token = issuer.add_access_token(email="ann@example.com", account_id="ws-ann")
    assert access_token_login(home, issuer, token) == [
        "Successfully logged in",
        "Logged in as ann@example.com (ChatGPT Enterprise)",
        KEPT_API_KEY,
    ]


def test_a_second_access_token_says_it_keeps_the_first(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    first = issuer.add_access_token(email="ann@example.com", account_id="ws-ann")
    second = issuer.add_access_token(email="bob@example.com", account_id="ws-bob")
    assert access_token_login(home, issuer, first)[-1] == (
        "Logged in as ann@example.com (ChatGPT Enterprise)"
    )
    assert access_token_login(home, issuer, first)[-1] == (
        "Logged in as ann@example.com (ChatGPT Enterprise)"
    )  # the same token again parks nothing
    assert access_token_login(home, issuer, second)[-1] == (
        "The previous login is kept as account access-token; "
        "`codex-login switch access-token` goes back"
    )


def test_accounts_tells_access_tokens_apart_without_asking_whoami(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """What is known offline: the kind in Codex's words and the token, masked as a key is."""
    home = tmp_path / "codex"
    first = issuer.add_access_token("at-first-0123456789abcde", email="ann@example.com")
    second = issuer.add_access_token("at-second-9876543210vwxyz", email="bob@example.com")
    api_key_login(home, FIRST_KEY, access_token_env(home, issuer))
    access_token_login(home, issuer, first)
    access_token_login(home, issuer, second)
    asked = len(issuer.requests_to(WHOAMI))
    listed = accounts(home, env=access_token_env(home, issuer))
    assert listed.splitlines() == [
        "  access-token  personal access token at-first***abcde",
        "* access-token-2  personal access token at-secon***vwxyz",
        "  api-key  API key sk-proj-***abcde",
    ]
    assert first not in listed
    assert second not in listed
    assert len(issuer.requests_to(WHOAMI)) == asked
    document = json.loads(accounts(home, "--json", env=access_token_env(home, issuer)))
    assert [(a["name"], a["mode"], a["kind"], a["api_key"]) for a in document["accounts"]] == [
        ("access-token", "chatgpt", "personal access token", None),
        ("access-token-2", "chatgpt", "personal access token", None),
        ("api-key", "apikey", "API key", "sk-proj-***abcde"),
    ]


def test_a_device_code_login_says_it_keeps_the_api_key(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    env = issuer_env(home, issuer)
    api_key_login(home, FIRST_KEY, env)
    io = FakeIO()

    def approve() -> None:
        wait_until(lambda: DEVICE_CODE.search(io.err()), what="the device code")
        found = DEVICE_CODE.search(io.err())
        assert found is not None
        issuer.approve_device(found.group(1))

    approver = threading.Thread(target=approve, name="test-approver", daemon=True)
    approver.start()
    try:
        result = run_in_process("login", "--device-auth", env=env, io=io)
    finally:
        approver.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == KEPT_API_KEY


def test_a_pasted_sign_in_says_it_keeps_the_api_key(tmp_path: Path, issuer: FakeIssuer) -> None:
    """A real process: the address the browser ended on is pasted on its stdin."""
    home = tmp_path / "codex"
    env = issuer_env(home, issuer)
    api_key_login(home, FIRST_KEY, env)
    child, url = start_browser_login([], env, stdin=subprocess.PIPE)
    redirect = redirected(url)
    _, rest = child.communicate(f"{redirect}\n", timeout=60)
    assert child.returncode == 0, rest
    assert rest.splitlines()[-1] == KEPT_API_KEY


def test_a_login_of_a_kind_codex_login_only_describes_is_named_in_codex_s_words(
    tmp_path: Path,
) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    (home / "auth.json").write_text(json.dumps({"auth_mode": "bedrockApiKey"}))
    assert accounts(home).splitlines() == ["* bedrockapikey  an Amazon Bedrock key"]


def test_status_json_names_each_kind_as_its_first_line_does(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    api_key_login(home, FIRST_KEY)
    shown = run_in_process("status", "--json", home=home)
    assert shown.stderr == "API key configured - sk-proj-***abcde\n"
    assert json.loads(shown.stdout)["kind"] == "API key"
    (home / "auth.json").write_text(json.dumps({"auth_mode": "bedrockApiKey"}))
    shown = run_in_process("status", "--json", home=home)
    assert shown.stderr.splitlines()[0] == "Logged in using an Amazon Bedrock key"
    assert json.loads(shown.stdout)["kind"] == "an Amazon Bedrock key"


def test_status_json_names_an_access_token_as_its_first_line_does(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    access_token_login(home, issuer, issuer.add_access_token(email="ann@example.com"))
    shown = run_in_process("status", "--json", env=access_token_env(home, issuer))
    assert shown.stderr.splitlines()[0] == "Logged in using personal access token"
    assert json.loads(shown.stdout)["kind"] == "personal access token"


def test_brokered_status_json_names_an_access_token_as_its_first_line_does(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    from support.broker import running_broker  # noqa: PLC0415  (broker tests only)

    host = tmp_path / "host"
    access_token_login(host, issuer, issuer.add_access_token(account_id="ws-ann"))
    with running_broker(host, env=access_token_env(host, issuer)) as broker:
        assert broker.socket is not None
        sandbox = clean_env(tmp_path / "sandbox", CODEX_LOGIN_BROKER=str(broker.socket))
        shown = run_in_process("status", "--json", env=sandbox)
        assert broker.stop() == 0
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.splitlines()[0] == "Logged in using personal access token"
    assert json.loads(shown.stdout)["kind"] == "personal access token"


def test_an_ephemeral_login_says_it_ends_with_the_process(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    (home / "config.toml").write_text('cli_auth_credentials_store = "ephemeral"\n')
    said = api_key_login(home, FIRST_KEY)
    assert said.splitlines() == [
        "The login is kept in memory only: it ends with this process",
        "Successfully logged in",
    ]
    assert not (home / "auth.json").exists()
    status = run_in_process("status", home=home)
    assert (status.returncode, status.stderr) == (1, "Not logged in\n")


def test_shell_completion_offers_the_stored_logins_names(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "codex", tmp_path / "elsewhere"
    api_key_login(home, FIRST_KEY)
    api_key_login(home, SECOND_KEY)
    api_key_login(elsewhere, FIRST_KEY)
    assert accounts(home, "--names").splitlines() == ["api-key", "api-key-2"]
    script = run_in_process("completion", "bash", home=home).stdout
    # The script runs the console script, as it would in the user's shell.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    complete = (  # under set -u: an empty array is "unbound" in older bash
        'source /dev/stdin; set -u; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _codex_login; '
        'echo "${COMPREPLY[*]}"'
    )

    def completions(*words: str) -> str:
        return subprocess.run(
            ["bash", "-c", complete, "bash", "codex-login", *words],
            input=script,
            env=clean_env(home, PATH=path, HOME=str(tmp_path)),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    assert completions("switch", "") == "api-key api-key-2"
    assert completions("token", "--account", "api-key-") == "api-key-2"
    assert completions("--codex-home", str(elsewhere), "logout", "--account", "") == "api-key"
    # The directory as the command gets it: --codex-home=DIR (split at "=" by bash),
    # quoted, with ~, and after the command.
    assert completions("--codex-home", "=", str(elsewhere), "switch", "") == "api-key"
    assert completions(f"--codex-home='{elsewhere}'", "switch", "") == "api-key"
    assert completions("--codex-home", "~/elsewhere", "switch", "") == "api-key"
    assert completions("token", "--codex-home", str(elsewhere), "--account", "") == "api-key"
    assert completions("switch", "--") == "--help --codex-home --verbose"  # options, not names
    assert "api-key" not in completions("switch", "api-key", "")  # switch takes one name
    fish = run_in_process("completion", "fish", home=home).stdout
    assert "-l account -x -a '(codex-login accounts --names 2>/dev/null)'" in fish
