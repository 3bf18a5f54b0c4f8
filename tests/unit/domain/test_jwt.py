"""JWT payloads are read leniently in format and strictly in failure: only InvalidJwt."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.claims import parse_id_token, token_expiry
from codex_login.domain.errors import InvalidJwt
from codex_login.domain.jwt import decode_payload
from codex_login.domain.plans import KnownPlan, UnknownPlan
from support.tokens import b64url, id_token, make_jwt


@given(st.text())
def test_arbitrary_text_raises_only_invalid_jwt(text: str) -> None:
    try:
        payload = decode_payload(text)
    except InvalidJwt:
        return
    assert isinstance(payload, dict)


@given(st.lists(st.text(alphabet="ABCxyz019-_=.", max_size=12), min_size=1, max_size=4))
def test_dotted_base64ish_junk_raises_only_invalid_jwt(parts: list[str]) -> None:
    with contextlib.suppress(InvalidJwt):
        assert isinstance(decode_payload(".".join(parts)), dict)


@given(st.dictionaries(st.text(), st.integers() | st.text() | st.booleans()))
def test_any_json_object_payload_round_trips(payload: dict[str, object]) -> None:
    assert decode_payload(make_jwt(payload)) == payload


def test_padded_payload_is_accepted() -> None:
    body = base64.urlsafe_b64encode(json.dumps({"a": 1}).encode()).decode()
    assert body.endswith("=")
    assert decode_payload(f"h.{body}.s") == {"a": 1}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "three non-empty parts"),
        ("a.b", "three non-empty parts"),
        ("a..c", "three non-empty parts"),
        ("a.b.c.d", "three non-empty parts"),
        ("h.!!!.s", "not base64url"),
        ("h.a.s", "impossible base64url length"),
        (f"h.{b64url(b'not json')}.s", "not UTF-8 JSON"),
        (f"h.{b64url(bytes([0xFF, 0xFE]))}.s", "not UTF-8 JSON"),
        (f"h.{b64url(b'[1, 2]')}.s", "not a JSON object"),
        (f"h.{b64url(b'[' * 100_000)}.s", "not UTF-8 JSON"),
    ],
)
def test_malformed_tokens_name_the_problem(token: str, reason: str) -> None:
    with pytest.raises(InvalidJwt, match=reason):
        decode_payload(token)


def test_error_message_never_contains_the_token() -> None:
    secret = "h.c2VjcmV0LXBheWxvYWQ.s"
    with pytest.raises(InvalidJwt) as caught:
        decode_payload(secret)
    assert "c2VjcmV0" not in str(caught.value)


def test_id_token_claims_are_read() -> None:
    claims = parse_id_token(id_token(plan="team", organization_id="org-1", is_org_owner=True))
    assert claims.email == "user@example.com"
    assert claims.plan is KnownPlan.TEAM
    assert claims.account_id == "acc-123"
    assert claims.user_id == "user-123"
    assert claims.organization_id == "org-1"
    assert claims.needs_setup


def test_missing_claims_are_none() -> None:
    claims = parse_id_token(make_jwt({"sub": "123"}))
    assert claims.email is None
    assert claims.plan is None
    assert not claims.needs_setup


def test_unknown_plan_is_kept_verbatim() -> None:
    assert parse_id_token(id_token(plan="galactic")).plan == UnknownPlan("galactic")


def test_claims_of_the_wrong_type_are_ignored() -> None:
    claims = parse_id_token(make_jwt({"email": 5, "https://api.openai.com/auth": "x"}))
    assert claims.email is None
    assert claims.plan is None


def test_id_token_repr_hides_the_raw_jwt() -> None:
    raw = id_token()
    assert raw not in repr(parse_id_token(raw))


def test_token_expiry_reads_exp() -> None:
    expiry = token_expiry(make_jwt({"exp": 1_800_000_000}))
    assert expiry is not None
    assert expiry.timestamp() == 1_800_000_000


@pytest.mark.parametrize(
    "token",
    [
        "opaque-token",
        make_jwt({}),
        make_jwt({"exp": "soon"}),
        make_jwt({"exp": True}),
        make_jwt({"exp": 10**30}),
    ],
)
def test_token_expiry_is_none_when_unreadable(token: str) -> None:
    assert token_expiry(token) is None
