"""Reading a pasted line into the callback's query, or saying why it is not one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.application.pasted_redirect import NotAResponse, pasted_params

REDIRECT_URI = "http://localhost:1455/auth/callback"
ADDRESS = f"{REDIRECT_URI}?code=c0de-SECRET&state=st4te&iss=https%3A%2F%2Fauth.example.com"
EXPECTED = {"code": ["c0de-SECRET"], "state": ["st4te"], "iss": ["https://auth.example.com"]}


@pytest.mark.parametrize(
    "pasted",
    [
        ADDRESS,
        f"  {ADDRESS}\r",
        f'"{ADDRESS}"',
        f"'{ADDRESS}'",
        f"<{ADDRESS}>",
        ADDRESS.replace("/auth/callback?", "/auth/callback/?"),
        ADDRESS.replace("localhost", "127.0.0.1"),
        ADDRESS.split("?", 1)[1],
        "?" + ADDRESS.split("?", 1)[1],
        # The query as a browser's address bar shows it: the issuer's URL left unescaped.
        "code=c0de-SECRET&state=st4te&iss=https://auth.example.com",
    ],
    ids=[
        "address",
        "spaces",
        "double quotes",
        "single quotes",
        "angle brackets",
        "trailing slash",
        "127.0.0.1",
        "query",
        "?query",
        "unescaped query",
    ],
)
def test_an_address_or_its_query_gives_the_callbacks_parameters(pasted: str) -> None:
    assert pasted_params(pasted, REDIRECT_URI) == EXPECTED


def test_parameters_keep_blanks_and_repeats_for_the_callback_rules_to_judge() -> None:
    params = pasted_params(f"{REDIRECT_URI}?code=&state=a&state=b", REDIRECT_URI)
    assert params == {"code": [""], "state": ["a", "b"]}


def test_an_issuers_error_is_a_response() -> None:
    params = pasted_params(f"{REDIRECT_URI}?error=access_denied&state=st4te", REDIRECT_URI)
    assert params == {"error": ["access_denied"], "state": ["st4te"]}


@pytest.mark.parametrize("blank", ["", "   ", "\t\r", '""'])
def test_a_blank_line_is_no_paste(blank: str) -> None:
    assert pasted_params(blank, REDIRECT_URI) is None


@pytest.mark.parametrize(
    ("pasted", "why"),
    [
        ("https://auth.example.com/oauth/authorize?code=c0de-SECRET&state=s", "not the address"),
        ("http://localhost:1455/success?code=c0de-SECRET", "not the address"),
        ("http://localhost:1455/auth/callback", "carries no sign-in response"),
        ("http://localhost:1455/auth/callback?c0de-SECRET", "carries no sign-in response"),
        ("c0de-SECRET", "carries no sign-in response"),
    ],
)
def test_anything_else_is_refused_saying_what_to_paste(pasted: str, why: str) -> None:
    with pytest.raises(NotAResponse) as refusal:
        pasted_params(pasted, REDIRECT_URI)
    assert why in str(refusal.value)
    assert REDIRECT_URI in str(refusal.value)  # what to paste instead
    assert "c0de-SECRET" not in str(refusal.value)


def refusal_of(pasted: str) -> str:
    try:
        pasted_params(pasted, REDIRECT_URI)
    except NotAResponse as refusal:
        return str(refusal)
    return ""


@given(st.text())
def test_a_refusal_never_repeats_what_was_pasted(noise: str) -> None:
    assert "c0de-SECRET" not in refusal_of(f"{noise}c0de-SECRET{noise}")
