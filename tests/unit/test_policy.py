"""Plan policy, mode resolution, refresh due and masking, each checked against a restatement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import (
    MalformedCredentials,
    SessionEnded,
    TokenEndpointError,
    TransientTokenError,
    UnsupportedAuthMode,
)
from codex_login.domain.failures import refresh_failure
from codex_login.domain.login import login_record, mode_for_new_login
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import AuthMode, StoredMode, UnsupportedMode
from codex_login.domain.plans import KnownPlan, Plan, UnknownPlan, parse_plan, should_use_api_key
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import SEED_MAX_TOKEN_AGE, RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth, ChatGptAuth, resolve
from codex_login.domain.tokens import TokenData
from support.fakes import NOW
from support.records import chatgpt_tokens
from support.tokens import access_token, id_token

plans = st.sampled_from(list(KnownPlan)) | st.builds(UnknownPlan, st.text()) | st.none()
modes = st.sampled_from(list(AuthMode))
stored_modes = (
    modes | st.builds(UnsupportedMode, st.sampled_from(["agentIdentity", "x"])) | st.none()
)


def restated_policy(preferred: AuthMode, plan: Plan | None) -> bool:
    """SPEC §2 in other words: only ChatGPT-preferring users on free/plus/pro/team keep ChatGPT."""
    if preferred.value == "apikey":
        return True
    name = plan.value if isinstance(plan, KnownPlan) else None
    return name not in ("free", "plus", "pro", "team")


@given(modes, plans)
def test_plan_policy_matches_the_spec(preferred: AuthMode, plan: Plan | None) -> None:
    assert should_use_api_key(preferred, plan) == restated_policy(preferred, plan)


@given(st.text())
def test_plan_names_round_trip(name: str) -> None:
    plan = parse_plan(name)
    assert (plan.value if isinstance(plan, KnownPlan) else plan.name) == name


def _tokens_for(plan: Plan | None) -> TokenData:
    name = None if plan is None else (plan.value if isinstance(plan, KnownPlan) else plan.name)
    return TokenData(parse_id_token(id_token(plan=name)), "at", "rt")


def restated_resolution(
    mode: StoredMode | None,
    key: str | None,
    plan: Plan | None,
    has_tokens: bool,
    preferred: AuthMode,
) -> str:
    if isinstance(mode, UnsupportedMode):
        return "unsupported"
    if mode == AuthMode.API_KEY and key is None:
        return "error"
    if not has_tokens:
        return "apikey" if key is not None else "none"
    if key is None:
        return "chatgpt"
    if preferred == AuthMode.API_KEY:
        return "apikey"
    if mode is not None:
        return mode.value
    return "apikey" if restated_policy(preferred, plan) else "chatgpt"


@given(stored_modes, st.none() | st.just("sk-key"), plans, st.booleans(), modes)
def test_mode_resolution_matches_the_spec(
    mode: StoredMode | None,
    key: str | None,
    plan: Plan | None,
    has_tokens: bool,
    preferred: AuthMode,
) -> None:
    record = CredentialRecord(
        auth_mode=mode, openai_api_key=key, tokens=_tokens_for(plan) if has_tokens else None
    )
    expected = restated_resolution(mode, key, plan, has_tokens, preferred)
    if expected == "unsupported":
        with pytest.raises(UnsupportedAuthMode):
            resolve(record, preferred)
        return
    if expected == "error":
        with pytest.raises(MalformedCredentials, match="OPENAI_API_KEY is null or empty"):
            resolve(record, preferred)
        return
    auth = resolve(record, preferred)
    assert (auth.mode.value if auth else "none") == expected
    if isinstance(auth, ApiKeyAuth):
        assert auth.api_key == key
    if isinstance(auth, ChatGptAuth):
        assert auth.tokens == record.tokens


def test_seed_pro_account_with_api_key_still_uses_chatgpt() -> None:
    record = CredentialRecord(openai_api_key="sk-test-key", tokens=chatgpt_tokens(plan="pro"))
    assert isinstance(resolve(record, AuthMode.CHATGPT), ChatGptAuth)


def test_seed_enterprise_account_with_api_key_uses_the_key() -> None:
    record = CredentialRecord(
        openai_api_key="sk-test-key", tokens=chatgpt_tokens(plan="enterprise")
    )
    assert resolve(record, AuthMode.CHATGPT) == ApiKeyAuth("sk-test-key")


def test_neither_key_nor_tokens_is_not_logged_in() -> None:
    assert resolve(CredentialRecord(), AuthMode.CHATGPT) is None
    assert resolve(CredentialRecord(openai_api_key=""), AuthMode.CHATGPT) is None


@pytest.mark.parametrize(
    ("plan", "key", "mode"),
    [
        ("plus", "sk-x", AuthMode.CHATGPT),
        ("enterprise", "sk-x", AuthMode.API_KEY),
        (None, "sk-x", AuthMode.API_KEY),
        ("enterprise", None, AuthMode.CHATGPT),
        (None, None, AuthMode.CHATGPT),
    ],
)
def test_new_login_mode_follows_the_plan_policy_when_a_key_was_obtained(
    plan: str | None, key: str | None, mode: AuthMode
) -> None:
    assert mode_for_new_login(chatgpt_tokens(plan=plan), key) is mode


@given(plans, st.none() | st.just("sk-key"))
def test_a_new_login_record_always_resolves(plan: Plan | None, key: str | None) -> None:
    tokens = _tokens_for(plan)
    record = login_record(tokens, key, NOW, None)
    assert resolve(record, AuthMode.CHATGPT) is not None


# -- refresh due --------------------------------------------------------------


@pytest.mark.parametrize(("minutes_left", "due"), [(4, True), (5, True), (6, False), (-10, True)])
def test_refresh_is_due_within_five_minutes_of_expiry(minutes_left: int, due: bool) -> None:
    tokens = chatgpt_tokens(expires_at=NOW + timedelta(minutes=minutes_left))
    assert RefreshPolicy().is_due(tokens, NOW, NOW) is due


@pytest.mark.parametrize(
    ("lifetime_s", "left_s", "due"),
    [(60, 31, False), (60, 30, True), (60, 5, True), (3600, 301, False), (3600, 300, True)],
)
def test_short_lived_tokens_are_refreshed_at_half_their_lifetime(
    lifetime_s: int, left_s: int, due: bool
) -> None:
    expires_at = NOW + timedelta(seconds=left_s)
    token = access_token(expires_at, issued_at=expires_at - timedelta(seconds=lifetime_s))
    tokens = TokenData(parse_id_token(id_token()), token, "rt")
    assert RefreshPolicy().is_due(tokens, NOW, NOW) is due


@given(
    lifetime=st.integers(min_value=1, max_value=10**6),
    left=st.integers(min_value=-(10**6), max_value=10**6),
    margin=st.integers(min_value=0, max_value=10**5),
)
def test_refresh_is_due_exactly_within_the_smaller_margin(
    lifetime: int, left: int, margin: int
) -> None:
    """Restated: due when the seconds left are at most min(margin, lifetime / 2)."""
    expires_at = NOW.replace(microsecond=0) + timedelta(seconds=left)
    issued_at = expires_at - timedelta(seconds=lifetime)
    tokens = TokenData(
        parse_id_token(id_token()), access_token(expires_at, issued_at=issued_at), "rt"
    )
    policy = RefreshPolicy(expiry_margin=timedelta(seconds=margin))
    now = NOW.replace(microsecond=0)
    assert policy.is_due(tokens, now, now) is (left <= min(margin, lifetime / 2))


def test_an_iat_after_exp_keeps_the_plain_margin() -> None:
    expires_at = NOW + timedelta(minutes=4)
    token = access_token(expires_at, issued_at=expires_at + timedelta(hours=1))
    tokens = TokenData(parse_id_token(id_token()), token, "rt")
    assert RefreshPolicy().is_due(tokens, NOW, NOW)


@pytest.mark.parametrize(("age_days", "due"), [(9, True), (8, True), (7, False)])
def test_unreadable_expiry_falls_back_to_last_refresh_age(age_days: int, due: bool) -> None:
    tokens = TokenData(parse_id_token(id_token()), "opaque", "rt")
    assert RefreshPolicy().is_due(tokens, NOW - timedelta(days=age_days), NOW) is due


def test_unreadable_expiry_without_last_refresh_is_due() -> None:
    tokens = TokenData(parse_id_token(id_token()), "opaque", "rt")
    assert RefreshPolicy().is_due(tokens, None, NOW)


def test_thresholds_are_parameters() -> None:
    seed = RefreshPolicy(expiry_margin=timedelta(0), max_age=SEED_MAX_TOKEN_AGE)
    opaque = TokenData(parse_id_token(id_token()), "opaque", "rt")
    assert not seed.is_due(opaque, NOW - timedelta(days=27), NOW)
    assert seed.is_due(opaque, NOW - timedelta(days=28), NOW)
    expiring = chatgpt_tokens(expires_at=NOW + timedelta(minutes=1))
    assert not seed.is_due(expiring, NOW, NOW)


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_due_exactly_when_expiry_is_within_the_margin(seconds_left: int) -> None:
    expires = NOW.replace(microsecond=0) + timedelta(seconds=seconds_left)
    tokens = TokenData(parse_id_token(id_token()), access_token(expires), "rt")
    now = NOW.replace(microsecond=0)
    assert RefreshPolicy().is_due(tokens, now, now) is (seconds_left <= 300)


# -- masking ------------------------------------------------------------------


@given(st.text())
def test_masking_never_reveals_more_than_13_characters(key: str) -> None:
    shown = mask_api_key(key).replace("***", "", 1)
    assert len(shown) <= 13
    if len(key) >= 14:
        assert mask_api_key(key) == key[:8] + "***" + key[-5:]
    else:
        assert mask_api_key(key) == "***"


def test_masking_matches_the_codex_cli() -> None:
    assert mask_api_key("sk-test-123456789") == "sk-test-***56789"


@pytest.mark.parametrize(
    ("status", "code", "readable", "kind"),
    [
        (401, None, False, SessionEnded),
        (400, "refresh_token_reused", True, SessionEnded),
        (403, "invalid_grant", True, SessionEnded),
        (400, "invalid_request", True, TokenEndpointError),
        (429, "rate_limited", True, TransientTokenError),
        (403, None, False, TransientTokenError),
        (500, None, True, TransientTokenError),
        (None, None, True, TransientTokenError),
    ],
)
def test_refresh_failures_are_classified_as_the_spec_says(
    status: int | None, code: str | None, readable: bool, kind: type[Exception]
) -> None:
    failure = refresh_failure(status, code, None, readable=readable)
    assert type(failure) is kind
    if kind is SessionEnded:
        assert "codex-login login" in str(failure)
