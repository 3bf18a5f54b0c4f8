"""The testing kit's hypothesis strategies keep their promises: every file reads and
rewrites byte for byte, expired means expired at the given now, claims read back."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_login.adapters.auth_json import decode, encode
from codex_login.domain.claims import AUTH_CLAIM, parse_id_token, token_expiry, token_times
from codex_login.domain.foreign import describe_foreign
from codex_login.domain.login import mode_for_new_login
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.plans import KnownPlan, Plan, UnknownPlan, parse_plan
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import EXPIRY_MARGIN, SEED_MAX_TOKEN_AGE, RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth, resolve
from codex_login.domain.tokens import TokenData
from codex_login.testing import strategies
from codex_login.testing.clock import START
from codex_login.testing.strategies import AuthJsonFile
from codex_login.testing.tokens import make_jwt

T = TypeVar("T")
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def drawn(strategy: st.SearchStrategy[T]) -> list[T]:
    """What a strategy draws in a hundred tries (the same hundred every run)."""
    values: list[T] = []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(strategy)
    def collect(value: T) -> None:
        values.append(value)

    collect()
    return values


def tokens_of(record: CredentialRecord) -> TokenData:
    assert record.tokens is not None
    return record.tokens


# -- files and records ----------------------------------------------------------------------


@given(strategies.auth_json_files())
def test_every_file_reads_as_its_record_and_rewrites_byte_for_byte(file: AuthJsonFile) -> None:
    loaded = decode(file.data, "auth.json")
    assert loaded.warnings == ()
    assert loaded.record == file.record
    assert encode(file.record) == file.data


@given(strategies.auth_json_files(unknown_fields=True))
def test_unknown_fields_are_at_the_top_and_inside_tokens_and_survive_a_rewrite(
    file: AuthJsonFile,
) -> None:
    record = file.record
    assert set(record.extra) - {"agent_identity"}
    if record.tokens is not None:
        assert set(record.tokens.extra) - {"login_owner_id"}
    assert decode(encode(record), "auth.json").record == record


@given(strategies.auth_json_files(unknown_fields=False))
def test_without_unknown_fields_only_what_the_codex_cli_writes_is_there(
    file: AuthJsonFile,
) -> None:
    assert set(file.record.extra) <= {"agent_identity"}
    if file.record.tokens is not None:
        assert set(file.record.tokens.extra) <= {"login_owner_id"}


@given(strategies.auth_json_files(kinds=["apikey"]))
def test_an_api_key_file_is_what_login_with_api_key_writes(file: AuthJsonFile) -> None:
    record = file.record
    assert record.auth_mode is AuthMode.API_KEY
    assert record.tokens is None
    assert record.last_refresh is None
    assert isinstance(resolve(record, AuthMode.CHATGPT), ApiKeyAuth)
    assert file.text.startswith('{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "')


@given(strategies.auth_json_files(kinds=["chatgpt"]))
def test_a_chatgpt_file_is_what_a_login_writes(file: AuthJsonFile) -> None:
    record = file.record
    tokens = tokens_of(record)
    assert record.auth_mode is mode_for_new_login(tokens, record.openai_api_key)
    assert record.last_refresh is not None
    assert record.last_refresh <= START
    assert tokens.account_id == tokens.id_token.account_id
    assert resolve(record, AuthMode.CHATGPT) is not None


@given(strategies.auth_json_files(kinds=["legacy"]))
def test_a_legacy_file_has_no_auth_mode_and_resolves(file: AuthJsonFile) -> None:
    assert file.record.auth_mode is None
    assert resolve(file.record, AuthMode.CHATGPT) is not None


@given(strategies.auth_json_files(kinds=["foreign"]))
def test_a_foreign_file_is_described_not_used(file: AuthJsonFile) -> None:
    assert isinstance(file.record.auth_mode, UnsupportedMode)
    assert describe_foreign(file.record) is not None


@given(strategies.auth_json_files(kinds=["chatgpt", "legacy"], api_key=False))
def test_api_key_false_stores_no_key_beside_the_tokens(file: AuthJsonFile) -> None:
    assert file.record.openai_api_key is None
    assert file.record.tokens is not None


@given(strategies.auth_json_files(kinds=["chatgpt"], api_key=True))
def test_api_key_true_stores_the_exchanged_key(file: AuthJsonFile) -> None:
    assert file.record.openai_api_key


@given(strategies.auth_json_files(workspaces=st.none(), plans=st.none()))
def test_claims_pinned_absent_are_absent_in_every_kind(file: AuthJsonFile) -> None:
    if file.record.tokens is not None:
        assert file.record.tokens.account_id is None
        assert file.record.tokens.id_token.plan is None
        assert '"account_id": null' in file.text
    foreign = describe_foreign(file.record)
    assert foreign is None or (foreign.plan, foreign.account_id) == (None, None)


def test_the_builders_a_draw_calls_return_one_strategy_each() -> None:
    """Hypothesis checks each new strategy object on its first draw: built afresh in
    every draw, the checks cost more than the draws (the quick run, issue 22)."""
    assert strategies.api_keys() is strategies.api_keys()
    assert strategies.unknown_fields(["a", "b"]) is strategies.unknown_fields(("b", "a"))


def test_every_kind_is_drawn() -> None:
    assert {file.kind for file in drawn(strategies.auth_json_files())} == set(strategies.KINDS)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kinds must be some of apikey, chatgpt"):
        strategies.auth_json_files(kinds=["oauth"])  # type: ignore[list-item]


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        strategies.credential_records(now=datetime(2026, 1, 1))


# -- expiry -------------------------------------------------------------------------------


@given(st.data(), moments)
def test_expired_tokens_have_expired_at_the_given_now(data: st.DataObject, now: datetime) -> None:
    record = data.draw(
        strategies.credential_records(
            kinds=["chatgpt", "legacy"], api_key=False, now=now, expired=True
        )
    )
    tokens = tokens_of(record)
    expires_at = token_expiry(tokens.access_token)
    assert expires_at is not None
    assert expires_at <= now
    assert RefreshPolicy().is_due(tokens, record.last_refresh, now)


@given(st.data(), moments, strategies.refresh_policies())
def test_fresh_tokens_need_no_refresh_at_the_given_now(
    data: st.DataObject, now: datetime, policy: RefreshPolicy
) -> None:
    tokens = data.draw(strategies.token_data(now=now, expired=False, policy=policy))
    expires_at = token_expiry(tokens.access_token)
    assert expires_at is not None
    assert expires_at > now + policy.expiry_margin
    assert not policy.is_due(tokens, now, now)


@given(st.data(), moments, st.none() | st.booleans())
def test_last_refresh_is_never_after_now(
    data: st.DataObject, now: datetime, expired: bool | None
) -> None:
    record = data.draw(strategies.credential_records(kinds=["chatgpt"], now=now, expired=expired))
    assert record.last_refresh is not None
    assert record.last_refresh <= now


def test_without_expired_both_sides_and_opaque_tokens_are_drawn() -> None:
    def expiry(tokens: TokenData) -> datetime | None:
        return token_expiry(tokens.access_token)

    expiries = [expiry(tokens) for tokens in drawn(strategies.token_data())]
    assert None in expiries
    assert any(moment > START for moment in expiries if moment)
    assert any(moment <= START for moment in expiries if moment)


# -- claims ---------------------------------------------------------------------------------


@given(strategies.id_token_claims())
def test_id_token_claims_read_back_with_the_domains_jwt_reader(claims: dict[str, object]) -> None:
    token = parse_id_token(make_jwt(claims))
    auth = claims[AUTH_CLAIM]
    assert isinstance(auth, dict)
    plan = auth.get("chatgpt_plan_type")
    assert token.plan == (parse_plan(plan) if isinstance(plan, str) else None)
    assert token.account_id == auth.get("chatgpt_account_id")
    assert token.user_id == auth["chatgpt_user_id"]
    assert token.email == claims.get("email")
    assert token.issuer == claims["iss"]
    assert token.audience == tuple(claims["aud"])  # type: ignore[arg-type]


@given(st.data(), strategies.plans(), strategies.workspace_ids())
def test_an_id_token_carries_the_plan_and_workspace_asked_for(
    data: st.DataObject, plan: Plan, workspace: str
) -> None:
    raw = data.draw(strategies.id_tokens(plans=st.just(plan), workspaces=st.just(workspace)))
    token = parse_id_token(raw)
    assert token.plan == plan
    assert token.account_id == workspace


@given(strategies.access_token_claims())
def test_access_token_claims_read_back_with_the_domains_jwt_reader(
    claims: dict[str, object],
) -> None:
    issued_at, expires_at = token_times(make_jwt(claims))
    assert expires_at == datetime.fromtimestamp(claims["exp"], UTC)  # type: ignore[arg-type]
    iat = claims.get("iat")
    assert issued_at == (None if iat is None else datetime.fromtimestamp(iat, UTC))  # type: ignore[arg-type]
    assert isinstance(claims[AUTH_CLAIM], dict)


# -- small values and policies ----------------------------------------------------------------


def test_every_known_plan_is_drawn() -> None:
    assert set(KnownPlan) <= set(drawn(strategies.plans()))


@given(strategies.plans(known=False))
def test_an_unknown_spelling_is_kept_verbatim(plan: Plan) -> None:
    assert isinstance(plan, UnknownPlan)
    assert parse_plan(plan.name) == plan


@given(strategies.api_keys())
def test_api_keys_are_single_words(key: str) -> None:
    assert key
    assert key == key.strip()
    assert not any(char.isspace() for char in key)


@given(strategies.login_policies(workspaces=st.sampled_from(["ws-a", "ws-b"])))
def test_login_policies_draw_their_workspaces_from_the_strategy_given(
    policy: LoginPolicy,
) -> None:
    assert policy.methods <= frozenset(LoginMethod)
    assert policy.workspaces is None or set(policy.workspaces) <= {"ws-a", "ws-b"}


def test_login_policies_include_restrictions_and_the_unrestricted_one() -> None:
    policies = drawn(strategies.login_policies())
    assert any(policy.unrestricted for policy in policies)
    assert any(policy.workspaces == () for policy in policies)
    assert any(not policy.methods for policy in policies)
    assert any(policy.workspaces for policy in policies)


def test_refresh_policies_include_the_default_and_the_seeds() -> None:
    policies = drawn(strategies.refresh_policies())
    assert RefreshPolicy() in policies
    assert RefreshPolicy(max_age=SEED_MAX_TOKEN_AGE) in policies
    assert any(policy.expiry_margin != EXPIRY_MARGIN for policy in policies)


# -- the extra --------------------------------------------------------------------------------

WITHOUT_HYPOTHESIS = """
import sys
sys.modules["hypothesis"] = None  # as if not installed
import codex_login.testing
import codex_login.testing.plugin
from codex_login.testing import SettableClock, id_token
SettableClock()
id_token()
try:
    import codex_login.testing.strategies
except ImportError as exc:
    print(exc)
"""


def test_the_kit_imports_without_hypothesis_and_strategies_name_the_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_HYPOTHESIS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "codex_login.testing.strategies needs hypothesis, in the testing extra: "
        "pip install 'codex-login[testing]' (from a checkout: pip install '.[testing]')"
    )
