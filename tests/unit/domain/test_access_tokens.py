"""Access tokens in the domain: which records hold one, what they resolve to, the policy."""

from __future__ import annotations

import json

import pytest

from codex_login.adapters.auth_json import decode, encode
from codex_login.domain.access_tokens import (
    access_token_record,
    is_access_token,
    stored_access_token,
    whoami_url,
)
from codex_login.domain.choice import Choice, choose_credential
from codex_login.domain.errors import PolicyViolation, SignsRequests, WorkspaceRefused
from codex_login.domain.foreign import describe_foreign
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.modes import AuthMode
from codex_login.domain.resolution import AccessTokenAuth, resolve

CODEX_BYTES = b'{\n  "OPENAI_API_KEY": null,\n  "personal_access_token": "at-abc"\n}'


def test_codex_file_resolves_to_an_access_token() -> None:
    record = decode(CODEX_BYTES, "auth.json").record
    assert stored_access_token(record) == "at-abc"
    assert resolve(record, AuthMode.CHATGPT) == AccessTokenAuth("at-abc")
    assert describe_foreign(record) is None


def test_the_record_written_is_the_codex_cli_bytes() -> None:
    assert encode(access_token_record("at-abc")) == CODEX_BYTES


@pytest.mark.parametrize(
    "document",
    [
        {"auth_mode": "chatgptAuthTokens", "personal_access_token": "at-abc"},
        {"OPENAI_API_KEY": None, "personal_access_token": 5},
        {"OPENAI_API_KEY": None, "personal_access_token": ""},
    ],
)
def test_other_records_hold_no_access_token(document: dict[str, object]) -> None:
    record = decode(json.dumps(document).encode(), "auth.json").record
    assert stored_access_token(record) is None


def test_codex_mode_name_with_the_field_is_an_access_token_too() -> None:
    document = {"auth_mode": "personalAccessToken", "personal_access_token": "at-abc"}
    record = decode(json.dumps(document).encode(), "auth.json").record
    assert resolve(record, AuthMode.CHATGPT) == AccessTokenAuth("at-abc")


def test_the_at_prefix_decides_as_codex_does() -> None:
    assert is_access_token("at-x")
    assert not is_access_token("eyJhbGciOi.x.y")
    assert not is_access_token("sk-proj-123")


def test_whoami_url_drops_trailing_slashes() -> None:
    assert whoami_url(" https://a.example/api/accounts// ") == (
        "https://a.example/api/accounts/v1/user-auth-credential/whoami"
    )


def choose(access_token: str, policy: LoginPolicy) -> Choice:
    return choose_credential(
        override=None,
        record=None,
        env_key=None,
        preferred=AuthMode.CHATGPT,
        policy=policy,
        location="auth.json",
        access_token=access_token,
    )


def test_an_access_token_counts_as_a_chatgpt_login_for_the_policy() -> None:
    chatgpt_only = LoginPolicy(frozenset({LoginMethod.CHATGPT}))
    assert choose("at-abc", chatgpt_only).refusal is None
    api_only = LoginPolicy(frozenset({LoginMethod.API}))
    refusal = choose("at-abc", api_only).refusal
    assert isinstance(refusal, PolicyViolation)
    assert "holds an access token: ChatGPT login is disabled" in str(refusal)


def test_its_workspace_is_checked_once_whoami_names_it() -> None:
    policy = LoginPolicy(workspaces=("ws-a",))
    policy.check_access_token_workspace("ws-a", "auth.json")
    with pytest.raises(WorkspaceRefused, match="belongs to workspace ws-b"):
        policy.check_access_token_workspace("ws-b", "auth.json")


def test_codex_access_token_that_is_not_at_is_an_agent_identity() -> None:
    with pytest.raises(SignsRequests, match="CODEX_ACCESS_TOKEN"):
        choose("eyJhbGciOi.x.y", LoginPolicy())
