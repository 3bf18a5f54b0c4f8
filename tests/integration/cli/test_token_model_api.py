"""``token --json`` says where the login's model requests go and every header they carry
(issue 23, items 1 and 4): each kind of login by each ``openai_base_url`` in config.toml,
and a bad ``openai_base_url`` is a one-line error naming config.toml and the key."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.cli import clean_env, run_cli, run_in_process
from support.records import chatgpt_document
from support.tokens import id_token

KEY = "sk-test-model-api-0123456789"
CHATGPT = "https://chatgpt.com/backend-api/codex"
API = "https://api.openai.com/v1"


def write_auth(home: Path, document: dict[str, Any]) -> None:
    (home / "auth.json").write_text(json.dumps(document))
    (home / "auth.json").chmod(0o600)


def chatgpt(home: Path, *, account: bool) -> dict[str, str]:
    document = chatgpt_document(expires_at=datetime.now(UTC) + timedelta(hours=1))
    if not account:
        document["tokens"]["account_id"] = None
        document["tokens"]["id_token"] = id_token(account_id=None)
    write_auth(home, document)
    return {}


def api_key_file(home: Path) -> dict[str, str]:
    write_auth(home, {"auth_mode": "apikey", "OPENAI_API_KEY": KEY})
    return {}


def openai_api_key(home: Path) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY}


def codex_api_key(home: Path) -> dict[str, str]:
    chatgpt(home, account=True)  # handed out before the stored login
    return {"CODEX_API_KEY": KEY}


# Each login kind: how to set it up, its default base URL, whether it has an account id.
LOGINS: dict[str, tuple[Callable[[Path], dict[str, str]], str, bool]] = {
    "api key in auth.json": (api_key_file, API, False),
    "OPENAI_API_KEY": (openai_api_key, API, False),
    "CODEX_API_KEY": (codex_api_key, API, False),
    "chatgpt with account id": (lambda home: chatgpt(home, account=True), CHATGPT, True),
    "chatgpt without account id": (lambda home: chatgpt(home, account=False), CHATGPT, False),
}
OVERRIDES = {
    "none": None,
    "https": "https://gateway.example.com/openai/v1",
    "loopback http": "http://127.0.0.1:9/v1",
}


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("login", LOGINS)
def test_token_json_gives_the_base_url_and_every_header(
    home: Path, login: str, override: str
) -> None:
    setup, default, has_account = LOGINS[login]
    env = setup(home)
    configured = OVERRIDES[override]
    if configured is not None:
        (home / "config.toml").write_text(f'openai_base_url = "{configured}"\n')
    result = run_in_process("token", "--json", env=clean_env(home, **env))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["base_url"] == (configured or default)
    expected = {"Authorization": f"Bearer {document['token']}"}
    if has_account:
        expected["ChatGPT-Account-ID"] = "acc-123"
    assert document["headers"] == expected
    assert (document["token"] == KEY) is (default == API)


def test_openai_base_url_in_the_environment_moves_nothing(home: Path) -> None:
    """Decided after measuring Codex 0.171, which does not follow it either."""
    chatgpt(home, account=True)
    env = clean_env(home, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    document = json.loads(run_in_process("token", "--json", env=env).stdout)
    assert document["base_url"] == CHATGPT


def test_organization_and_project_are_headers_to_send(home: Path) -> None:
    api_key_file(home)
    env = clean_env(home, OPENAI_ORGANIZATION="org-1", OPENAI_PROJECT="proj-1")
    document = json.loads(run_in_process("token", "--json", env=env).stdout)
    assert document["headers"] == {
        "Authorization": f"Bearer {KEY}",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
    }


def test_an_organization_is_trimmed_and_one_with_a_line_break_is_refused(home: Path) -> None:
    """A line break would put a header of the value's choosing into every request, and
    into the headers scripts pass to curl: refused in one line, before anything is sent."""
    api_key_file(home)
    spaced = clean_env(home, OPENAI_ORGANIZATION="  org-1  ")
    document = json.loads(run_in_process("token", "--json", env=spaced).stdout)
    assert document["headers"]["OpenAI-Organization"] == "org-1"
    injected = clean_env(home, OPENAI_ORGANIZATION="org-1\nX-Injected: 1")
    refused = run_in_process("token", "--json", env=injected)
    assert refused.returncode == 1
    assert "X-Injected" not in refused.stdout
    assert refused.stderr.startswith(
        "Error: OPENAI_ORGANIZATION holds a character an HTTP header cannot carry"
    )
    assert len(refused.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "value",
    ["ftp://example.com/v1", "http://example.com/v1", "http://10.1.2.3:8080/v1", "example.com"],
)
def test_a_bad_openai_base_url_is_one_line_naming_the_file_and_the_key(
    home: Path, value: str
) -> None:
    chatgpt(home, account=True)
    config = home / "config.toml"
    config.write_text(f'openai_base_url = "{value}"\n')
    for args in (["token"], ["token", "--json"]):
        result = run_cli(*args, home=home)  # a real process: no traceback (run_cli checks)
        assert result.returncode == 1
        if args == ["token"]:
            assert result.stdout == ""
        else:  # issue 26: --json says the failure on stdout too, as a document
            assert json.loads(result.stdout)["error"]["code"] == "misconfigured"
        [line] = result.stderr.splitlines()
        assert str(config) in line
        assert "openai_base_url" in line
        assert "fix the file or remove the key" in line
