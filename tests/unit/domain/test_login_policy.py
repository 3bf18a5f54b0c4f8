"""The login policy: layers only narrow, and the Codex CLI's sentences."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import ConfigurationError, PolicyViolation
from codex_login.domain.login_policy import (
    ALL_METHODS,
    LoginMethod,
    LoginPolicy,
    workspace_ids,
)
from codex_login.domain.resolution import ApiKeyAuth, ChatGptAuth
from codex_login.domain.tokens import TokenData
from codex_login.testing import strategies
from codex_login.testing.tokens import id_token

WORKSPACE = st.sampled_from(["ws-a", "ws-b", "ws-c", "ws-d"])
POLICIES = strategies.login_policies(workspaces=WORKSPACE)


def allowed_workspaces(policy: LoginPolicy, universe: list[str]) -> set[str]:
    """The workspaces a ChatGPT login may belong to, out of ``universe``."""
    if not policy.allows(LoginMethod.CHATGPT):
        return set()
    return {w for w in universe if policy.workspaces is None or w in policy.workspaces}


UNIVERSE = ["ws-a", "ws-b", "ws-c", "ws-d", "ws-other"]


@given(POLICIES, POLICIES)
def test_narrowing_allows_exactly_what_both_layers_allow(a: LoginPolicy, b: LoginPolicy) -> None:
    both = a.narrow(b)
    for method in LoginMethod:
        if method is LoginMethod.API:
            assert both.allows(method) == (a.allows(method) and b.allows(method))
    assert allowed_workspaces(both, UNIVERSE) == (
        allowed_workspaces(a, UNIVERSE) & allowed_workspaces(b, UNIVERSE)
    )


@given(POLICIES, POLICIES)
def test_the_order_of_the_layers_does_not_change_what_is_allowed(
    a: LoginPolicy, b: LoginPolicy
) -> None:
    one, other = a.narrow(b), b.narrow(a)
    assert one.methods == other.methods
    assert allowed_workspaces(one, UNIVERSE) == allowed_workspaces(other, UNIVERSE)


@given(POLICIES)
def test_the_unrestricted_policy_narrows_nothing(policy: LoginPolicy) -> None:
    assert policy.narrow(LoginPolicy()) == policy
    assert LoginPolicy().narrow(policy) == policy


@given(POLICIES, POLICIES, POLICIES)
def test_narrowing_is_associative_in_what_it_allows(
    a: LoginPolicy, b: LoginPolicy, c: LoginPolicy
) -> None:
    left, right = a.narrow(b).narrow(c), a.narrow(b.narrow(c))
    assert left.methods == right.methods
    assert allowed_workspaces(left, UNIVERSE) == allowed_workspaces(right, UNIVERSE)


@given(st.lists(st.text(alphabet=" \tab-", max_size=5), max_size=6))
def test_workspace_ids_are_trimmed_and_blanks_dropped(values: list[str]) -> None:
    ids = workspace_ids(values)
    assert all(item == item.strip() and item for item in ids)
    assert ids == tuple(v.strip() for v in values if v.strip())


def test_disjoint_workspaces_disable_chatgpt_but_not_api_keys() -> None:
    policy = LoginPolicy(workspaces=("ws-a",)).narrow(LoginPolicy(workspaces=("ws-b",)))
    assert policy.workspaces == ()
    assert not policy.allows(LoginMethod.CHATGPT)
    assert policy.allows(LoginMethod.API)
    with pytest.raises(PolicyViolation, match=r"^ChatGPT login is disabled\. Use API key"):
        policy.check_method(LoginMethod.CHATGPT)


def test_a_policy_without_any_method_is_a_configuration_error() -> None:
    chatgpt_only = LoginPolicy(frozenset({LoginMethod.CHATGPT}))
    with pytest.raises(ConfigurationError, match="do not permit any usable login method"):
        chatgpt_only.narrow(LoginPolicy(workspaces=())).require_usable()
    with pytest.raises(ConfigurationError):
        LoginPolicy(frozenset()).require_usable()
    assert LoginPolicy(workspaces=()).require_usable().allows(LoginMethod.API)


@pytest.mark.parametrize(
    ("method", "sentence"),
    [
        (LoginMethod.API, "API key login is disabled. Use ChatGPT login instead."),
        (LoginMethod.CHATGPT, "ChatGPT login is disabled. Use API key login instead."),
    ],
)
def test_a_disabled_method_is_refused_with_the_codex_sentence(
    method: LoginMethod, sentence: str
) -> None:
    other = ALL_METHODS - {method}
    with pytest.raises(PolicyViolation) as refused:
        LoginPolicy(other).check_method(method)
    assert str(refused.value) == sentence


def test_a_new_login_outside_the_workspaces_names_them_all() -> None:
    policy = LoginPolicy(workspaces=("ws-a", "ws-b"))
    policy.check_new_login("ws-b")
    with pytest.raises(PolicyViolation) as refused:
        policy.check_new_login("ws-c")
    assert str(refused.value) == "Login is restricted to workspace id(s) ws-a, ws-b."


def test_a_new_login_without_the_claim_has_its_own_sentence() -> None:
    with pytest.raises(PolicyViolation) as refused:
        LoginPolicy(workspaces=("ws-a",)).check_new_login(None)
    assert str(refused.value) == (
        "Login is restricted to a specific workspace, but the token did not include an "
        "chatgpt_account_id claim."
    )
    LoginPolicy().check_new_login(None)  # unrestricted: no claim needed


def test_the_authorize_url_carries_the_workspaces_comma_joined_last() -> None:
    url = LoginPolicy(workspaces=("ws-a", "ws-b")).authorize_url("https://i/oauth/authorize?x=1")
    assert url.endswith("&allowed_workspace_id=ws-a%2Cws-b")
    assert parse_qs(urlsplit(url).query)["allowed_workspace_id"] == ["ws-a,ws-b"]
    assert LoginPolicy().authorize_url("https://i/a?x=1") == "https://i/a?x=1"


def chatgpt(*, stored: str | None, claim: str | None) -> ChatGptAuth:
    token = parse_id_token(id_token(account_id=claim))
    return ChatGptAuth(
        TokenData(id_token=token, access_token="a", refresh_token="r", account_id=stored)
    )


def test_a_stored_login_is_judged_by_its_account_id_first_as_the_codex_cli_does() -> None:
    policy = LoginPolicy(workspaces=("ws-a",))
    policy.check_credential(chatgpt(stored="ws-a", claim="ws-b"), "auth.json")
    policy.check_credential(chatgpt(stored=None, claim="ws-a"), "auth.json")
    with pytest.raises(PolicyViolation, match="belongs to workspace ws-b: Login is restricted"):
        policy.check_credential(chatgpt(stored="ws-b", claim="ws-a"), "auth.json")
    with pytest.raises(PolicyViolation, match="names no workspace"):
        policy.check_credential(chatgpt(stored=None, claim=None), "auth.json")


def test_an_api_key_is_bound_to_no_workspace_only_to_its_method() -> None:
    LoginPolicy(workspaces=("ws-a",)).check_credential(ApiKeyAuth("sk-x"), "auth.json")
    with pytest.raises(PolicyViolation, match=r"auth\.json holds an API key: API key login is"):
        LoginPolicy(frozenset({LoginMethod.CHATGPT})).check_credential(
            ApiKeyAuth("sk-x"), "auth.json"
        )
    with pytest.raises(PolicyViolation, match=r"^CODEX_API_KEY is set: API key login is disabled"):
        LoginPolicy(frozenset({LoginMethod.CHATGPT})).check_api_key("CODEX_API_KEY")
