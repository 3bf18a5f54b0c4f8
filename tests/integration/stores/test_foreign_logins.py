"""Logins the Codex CLI writes that codex-login does not create: described, kept, never used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_login import CodexAuth
from codex_login.domain.errors import SignsRequests, UnsupportedAuthMode
from support.cli import clean_env, run_in_process
from support.tokens import make_jwt

AGENT_CLAIMS = {
    "agent_runtime_id": "agent-runtime-1",
    "agent_private_key": "private-key-material",
    "account_id": "ws-agents",
    "chatgpt_user_id": "user-1",
    "email": "agent-owner@example.com",
    "plan_type": "team",
    "chatgpt_account_is_fedramp": False,
}


def agent_identity_file(home: Path) -> bytes:
    """An access-token login as the Codex CLI writes it (`codex login --with-access-token`)."""
    document = {
        "auth_mode": "agentIdentity",
        "OPENAI_API_KEY": None,
        "agent_identity": make_jwt(AGENT_CLAIMS),
    }
    data = json.dumps(document, indent=2).encode()
    home.mkdir(exist_ok=True)
    (home / "auth.json").write_bytes(data)
    return data


def test_status_reports_an_access_token_login_as_the_codex_cli_does(tmp_path: Path) -> None:
    data = agent_identity_file(tmp_path)
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "Logged in using access token"
    assert "  email: agent-owner@example.com" in lines
    assert "  account id: ws-agents" in lines
    assert any("has no token to hand out" in line for line in lines)
    assert "private-key-material" not in result.stderr
    assert (tmp_path / "auth.json").read_bytes() == data


def test_status_json_names_the_mode_and_kind(tmp_path: Path) -> None:
    agent_identity_file(tmp_path)
    result = run_in_process("status", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mode"] == "agentIdentity"
    assert document["foreign_login"] == "access token"
    assert document["email"] == "agent-owner@example.com"


def test_token_explains_in_one_line_that_the_login_signs_requests(tmp_path: Path) -> None:
    data = agent_identity_file(tmp_path)
    result = run_in_process("token", home=tmp_path)
    assert result.returncode == 4  # no retry gives a bearer token: a person must sign in
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "signs each request instead of sending a bearer token" in lines[0]
    assert (tmp_path / "auth.json").read_bytes() == data


def test_codex_api_key_is_still_handed_out_over_an_access_token_login(tmp_path: Path) -> None:
    data = agent_identity_file(tmp_path)
    result = run_in_process(
        "token", home=tmp_path, env={**clean_env(tmp_path), "CODEX_API_KEY": "sk-override-123456"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "sk-override-123456\n"
    assert (tmp_path / "auth.json").read_bytes() == data


@pytest.mark.parametrize(
    ("mode", "first_line"),
    [
        ("personalAccessToken", "Logged in using personal access token"),
        ("bedrockApiKey", "Logged in using an Amazon Bedrock key"),
        ("somethingNewer", 'Logged in using auth_mode "somethingNewer"'),
    ],
)
def test_other_modes_are_reported_and_kept(tmp_path: Path, mode: str, first_line: str) -> None:
    data = json.dumps({"auth_mode": mode, "OPENAI_API_KEY": None, "x": {"y": 1}}).encode()
    tmp_path.joinpath("auth.json").write_bytes(data)
    status = run_in_process("status", home=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stderr.splitlines()[0] == first_line
    token = run_in_process("token", home=tmp_path)
    assert token.returncode == 4  # as through a broker (401 login_unusable): sign in
    assert f"auth_mode '{mode}' is not supported" in token.stderr
    assert len(token.stderr.splitlines()) == 1
    assert tmp_path.joinpath("auth.json").read_bytes() == data


def test_logout_local_removes_an_access_token_login(tmp_path: Path) -> None:
    agent_identity_file(tmp_path)
    result = run_in_process("logout", "--local", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "auth.json").exists()


def test_the_embedding_api_raises_and_keeps_the_file(tmp_path: Path) -> None:
    data = agent_identity_file(tmp_path)
    auth = CodexAuth(codex_home=tmp_path, environ={})
    status = auth.status()
    assert status is not None
    assert status.foreign == "access token"
    with pytest.raises(SignsRequests) as raised:
        auth.get_token()
    assert isinstance(raised.value, UnsupportedAuthMode)
    assert (tmp_path / "auth.json").read_bytes() == data
