"""Plan policy, mode resolution, refresh due and masking, each checked against a restatement."""

from __future__ import annotations

import itertools
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
from codex_login.domain.plans import KnownPlan, Plan, parse_plan, should_use_api_key
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import SEED_MAX_TOKEN_AGE, RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth, ChatGptAuth, resolve
from codex_login.domain.tokens import TokenData
from codex_login.testing import strategies
from support.fakes import NOW
from support.records import chatgpt_tokens
from support.tokens import access_token, id_token

plans = strategies.plans() | st.none()
keys = st.none() | strategies.api_keys()
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


@given(strategies.plan_names() | st.text())
def test_plan_names_round_trip(name: str) -> None:
    plan = parse_plan(name)
    assert (plan.value if isinstance(plan, KnownPlan) else plan.name) == name


def _tokens_for(data: st.DataObject, plan: Plan | None) -> TokenData:
    """Any ChatGPT tokens whose ID token names ``plan``."""
    return data.draw(strategies.token_data(plans=st.just(plan)))


# SPEC §2's resolution rules as a table of mutually exclusive rows: which row applies
# does not depend on their order, so an ordering mistake in the code cannot be copied here.
# Columns: stored auth_mode, key stored, tokens stored, preferred mode, plan kind.
ANY_MODE = {"none", "apikey", "chatgpt", "unknown"}
BOTH = {True, False}
PREFERRED = {"apikey", "chatgpt"}
PLAN_KINDS = {"chatgpt plan", "other plan", "no plan"}  # chatgpt plan: free, plus, pro, team
Row = tuple[set[str], set[bool], set[bool], set[str], set[str], str]
RESOLUTION_TABLE: list[Row] = [
    ({"unknown"}, BOTH, BOTH, PREFERRED, PLAN_KINDS, "unsupported"),
    ({"apikey"}, {False}, BOTH, PREFERRED, PLAN_KINDS, "error"),
    ({"apikey"}, {True}, BOTH, PREFERRED, PLAN_KINDS, "apikey"),
    ({"none", "chatgpt"}, {False}, {False}, PREFERRED, PLAN_KINDS, "none"),
    ({"none", "chatgpt"}, {True}, {False}, PREFERRED, PLAN_KINDS, "apikey"),
    ({"none", "chatgpt"}, {False}, {True}, PREFERRED, PLAN_KINDS, "chatgpt"),
    ({"none", "chatgpt"}, {True}, {True}, {"apikey"}, PLAN_KINDS, "apikey"),
    ({"chatgpt"}, {True}, {True}, {"chatgpt"}, PLAN_KINDS, "chatgpt"),
    ({"none"}, {True}, {True}, {"chatgpt"}, {"chatgpt plan"}, "chatgpt"),
    ({"none"}, {True}, {True}, {"chatgpt"}, {"other plan", "no plan"}, "apikey"),
]


def table_outcome(mode: str, key: bool, tokens: bool, preferred: str, plan: str) -> str:
    def matches(row: Row) -> bool:
        modes, keys, tokens_, preferreds, plans_, _ = row
        return (
            mode in modes
            and key in keys
            and tokens in tokens_
            and preferred in preferreds
            and plan in plans_
        )

    case = (mode, key, tokens, preferred, plan)
    rows = [row for row in RESOLUTION_TABLE if matches(row)]
    assert len(rows) == 1, f"{case} matches {len(rows)} rows"
    return rows[0][5]


def test_the_resolution_table_covers_every_case_exactly_once() -> None:
    cases = itertools.product(ANY_MODE, BOTH, BOTH, PREFERRED, PLAN_KINDS)
    outcomes = {table_outcome(*case) for case in cases}
    assert outcomes == {"unsupported", "error", "apikey", "chatgpt", "none"}


def _mode_column(mode: StoredMode | None) -> str:
    if mode is None:
        return "none"
    return mode.value if isinstance(mode, AuthMode) else "unknown"


def _plan_kind(plan: Plan | None) -> str:
    if plan is None:
        return "no plan"
    chatgpt_plans = ("free", "plus", "pro", "team")
    return "chatgpt plan" if getattr(plan, "value", None) in chatgpt_plans else "other plan"


def restated_resolution(
    mode: StoredMode | None,
    key: str | None,
    plan: Plan | None,
    has_tokens: bool,
    preferred: AuthMode,
) -> str:
    return table_outcome(
        _mode_column(mode), key is not None, has_tokens, preferred.value, _plan_kind(plan)
    )


@given(
    data=st.data(),
    mode=stored_modes,
    key=keys,
    plan=plans,
    has_tokens=st.booleans(),
    preferred=modes,
)
def test_mode_resolution_matches_the_spec(
    *,
    data: st.DataObject,
    mode: StoredMode | None,
    key: str | None,
    plan: Plan | None,
    has_tokens: bool,
    preferred: AuthMode,
) -> None:
    record = CredentialRecord(
        auth_mode=mode, openai_api_key=key, tokens=_tokens_for(data, plan) if has_tokens else None
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


@given(st.data(), plans, keys)
def test_a_new_login_record_always_resolves(
    data: st.DataObject, plan: Plan | None, key: str | None
) -> None:
    tokens = _tokens_for(data, plan)
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
    assert "codex-login" not in str(failure)  # what happened: the CLI adds what to run
