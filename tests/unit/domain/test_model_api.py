"""Where a login's model requests go and what they carry: every login kind by every
configured override (issue 23, item 1), as Codex 0.171 does it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.model_api import (
    API_KEY_BASE_URL,
    CHATGPT_BASE_URL,
    ModelApi,
    ModelApiSettings,
    base_url_problem,
    header_value,
)
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken

# Every kind of login, as the token it hands out. An API key carries no account
# whichever place it came from (auth.json, OPENAI_API_KEY, CODEX_API_KEY).
LOGINS = {
    "api key from auth.json": AccessToken(AuthMode.API_KEY, "sk-file"),
    "OPENAI_API_KEY": AccessToken(AuthMode.API_KEY, "sk-openai-env"),
    "CODEX_API_KEY": AccessToken(AuthMode.API_KEY, "sk-codex-env"),
    "chatgpt with account": AccessToken(AuthMode.CHATGPT, "at-1", account_id="acc-1"),
    "chatgpt without account": AccessToken(AuthMode.CHATGPT, "at-2"),
}
OVERRIDES = {
    "none": None,
    "https": "https://proxy.example.com/openai/v1",
    "loopback http": "http://127.0.0.1:8080/v1",
}
DEFAULTS = {AuthMode.API_KEY: API_KEY_BASE_URL, AuthMode.CHATGPT: CHATGPT_BASE_URL}


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("login", LOGINS)
def test_each_login_kind_and_override_gives_its_base_url_and_headers(
    login: str, override: str
) -> None:
    token = LOGINS[login]
    configured = OVERRIDES[override]
    api = ModelApiSettings(base_url=configured).model_api(token)
    assert api.base_url == (configured or DEFAULTS[token.mode])
    expected = {"Authorization": f"Bearer {token.token}"}
    if token.account_id is not None:
        expected["ChatGPT-Account-ID"] = token.account_id
    assert dict(api.headers) == expected


def test_the_defaults_are_codexs() -> None:
    assert CHATGPT_BASE_URL == "https://chatgpt.com/backend-api/codex"
    assert API_KEY_BASE_URL == "https://api.openai.com/v1"


def test_an_api_key_of_a_workspace_sends_its_account_too() -> None:
    token = AccessToken(AuthMode.API_KEY, "sk-1", account_id="ws-1")
    assert ModelApiSettings().model_api(token).headers["ChatGPT-Account-ID"] == "ws-1"


def test_organization_and_project_are_sent_when_set_and_not_blank() -> None:
    token = AccessToken(AuthMode.API_KEY, "sk-1")
    both = ModelApiSettings(organization="org-1", project="proj-1").model_api(token)
    assert dict(both.headers) == {
        "Authorization": "Bearer sk-1",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
    }
    blank = ModelApiSettings(organization="  ", project=None).model_api(token)
    assert dict(blank.headers) == {"Authorization": "Bearer sk-1"}


def test_the_repr_names_the_headers_but_never_shows_the_token() -> None:
    token = AccessToken(AuthMode.CHATGPT, "at-secret-value", account_id="acc-1")
    api = ModelApiSettings().model_api(token)
    assert "at-secret-value" not in repr(api)
    assert "at-secret-value" not in str(api)
    assert "Authorization" in repr(api)
    assert CHATGPT_BASE_URL in repr(api)


def test_the_headers_are_read_only_and_compare_by_their_items() -> None:
    api = ModelApi("https://x.example", {"Authorization": "Bearer t"})
    with pytest.raises(TypeError):
        api.headers["Authorization"] = "Bearer other"  # type: ignore[index]
    assert api == ModelApi("https://x.example", {"Authorization": "Bearer t"})
    assert api != ModelApi("https://x.example", {"Authorization": "Bearer u"})
    assert hash(api) == hash(ModelApi("https://x.example", {"Authorization": "Bearer u"}))


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.5.6.7/v1",
        "http://[::1]:9000",
        "http://localhost:1234/v1",
        "http://LOCALHOST/v1",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert base_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/v1", "must be an http(s) URL"),
        ("api.example.com/v1", "must be an http(s) URL"),
        ("https://", "must be an http(s) URL"),
        ("http://example.com/v1", "must be https://"),
        ("http://10.0.0.1/v1", "must be https://"),
        ("http://localhost.example.com/v1", "must be https://"),
        ("https://user:pw@example.com/v1", "must not carry user info"),
        ("https://example.com:99999/v1", "must be an http(s) URL"),
    ],
)
def test_other_schemes_and_plain_http_off_loopback_are_refused(url: str, problem: str) -> None:
    found = base_url_problem(url)
    assert found is not None
    assert found.startswith(problem)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_a_printable_ascii_value_is_sent_trimmed(value: str) -> None:
    assert header_value("OPENAI_ORGANIZATION", value) == (value.strip() or None)


@given(st.text(), st.characters().filter(lambda char: not " " <= char <= "~"), st.text())
def test_a_value_a_header_cannot_carry_is_refused_naming_the_variable(
    before: str, bad: str, after: str
) -> None:
    """A line break would end the header early (a header of the value's choosing after
    it); a control character or a letter outside ASCII fails every request."""
    with pytest.raises(ConfigurationError, match=r"^OPENAI_PROJECT holds a character"):
        header_value("OPENAI_PROJECT", f"org{before}{bad}{after}x")  # inside: not trimmed
