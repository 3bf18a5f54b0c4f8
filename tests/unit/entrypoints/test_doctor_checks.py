"""`doctor`'s checks as pure functions: the rules, without files or processes."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from codex_login.entrypoints.doctor_checks import (
    CLOCK_TOLERANCE,
    Environment,
    Held,
    StoreChoice,
    environment_check,
    expiry_check,
    holdings_check,
    store_check,
)
from support.fakes import NOW
from support.records import chatgpt_record
from support.tokens import access_token

KEY = "sk-test-unit-0123456789abcdef"
API_KEY = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key=KEY)


@pytest.mark.parametrize(
    ("ours", "codex", "ok"),
    [
        ("file", "file", True),
        ("keyring", "keyring", True),
        ("memory", "ephemeral", True),
        ("redis", "file", True),  # codex-login's own store, shared on purpose
        ("file", "keyring", False),
        ("auto", "file", False),
    ],
)
def test_the_store_check_passes_when_both_tools_use_one_store(
    ours: str, codex: str, ok: bool
) -> None:
    check = store_check(StoreChoice(ours, "why", codex, "why"))
    assert check.ok is ok
    assert (check.fix is None) is ok


@pytest.mark.parametrize("ours", ["redis", "jsondir"])  # jsondir: a store someone adds
def test_the_store_check_says_the_codex_cli_does_not_read_codex_logins_own_stores(
    ours: str,
) -> None:
    """Not 'set cli_auth_credentials_store = "redis"', which the Codex CLI refuses."""
    check = store_check(StoreChoice(ours, "CODEX_LOGIN_STORE", "file", "the default"))
    assert check.ok
    assert check.said.endswith(
        f"; the Codex CLI cannot read a {ours} store: on these machines it gets tokens "
        "through `codex-login token` or the broker"
    )
    assert "cannot read" not in store_check(StoreChoice("file", "w", "file", "w")).said


def test_the_store_check_names_the_codex_clis_word_for_the_memory_store() -> None:
    check = store_check(StoreChoice("memory", "CODEX_LOGIN_STORE", "file", "the default"))
    assert check.fix is not None
    assert 'cli_auth_credentials_store = "ephemeral"' in check.fix


def test_a_store_that_cannot_be_read_is_fixed_as_its_error_says() -> None:
    """Not "log in again": a login cannot replace a damaged encrypted file, nor reach a
    Redis that is down. An error whose kind has a remedy keeps it."""
    damaged = Held("secrets/codex_auth.age", problem="cannot decrypt it; move the file away")
    check = holdings_check([damaged], Environment())
    assert (check.ok, check.fix) == (
        False,
        "fix what the line names, then run `codex-login doctor` again",
    )
    own = Held("auth.json", problem="not JSON", fix="fix it or run `codex-login login`")
    assert holdings_check([own], Environment()).fix == "fix it or run `codex-login login`"


def test_two_stores_holding_one_login_agree() -> None:
    held = [Held("keyring", chatgpt_record()), Held("auth.json", chatgpt_record(refresh="rt-2"))]
    assert holdings_check(held, Environment()).ok


def test_two_stores_holding_different_logins_disagree_and_no_key_is_said() -> None:
    check = holdings_check(
        [Held("keyring", chatgpt_record()), Held("auth.json", API_KEY)], Environment()
    )
    assert not check.ok
    assert KEY not in check.said
    assert "sk-test-***" in check.said


def test_nothing_anywhere_is_not_logged_in_but_an_environment_key_is_a_login() -> None:
    assert not holdings_check([Held("auth.json")], Environment()).ok
    assert holdings_check([Held("auth.json")], Environment(openai_api_key=KEY)).ok


@given(
    codex_api_key=st.booleans(),
    access=st.booleans(),
    openai=st.booleans(),
    identity=st.booleans(),
    stored=st.booleans(),
)
def test_the_environment_is_said_in_precedence_order_without_values(
    codex_api_key: bool, access: bool, openai: bool, identity: bool, stored: bool
) -> None:
    environment = Environment(
        codex_api_key=KEY if codex_api_key else None,
        codex_access_token=access,
        openai_api_key=KEY if openai else None,
        workload_identity=identity,
    )
    check = environment_check(environment, stored=stored)
    assert KEY not in check.said
    order = ["workload identity", "CODEX_API_KEY", "CODEX_ACCESS_TOKEN", "OPENAI_API_KEY"]
    positions = [check.said.find(name) for name in order if name in check.said]
    assert positions == sorted(positions)
    overrides = codex_api_key or access or identity
    assert check.ok is not (stored and overrides)


def test_one_credential_in_the_environment_is_said_once_and_the_fix_names_what_to_unset() -> None:
    masked = mask_api_key(KEY)
    check = environment_check(Environment(codex_api_key=KEY), stored=True)
    assert check.said == f"CODEX_API_KEY ({masked}) is set; it is used instead of the stored login"
    assert check.fix == "unset CODEX_API_KEY to use the stored login"
    identity = environment_check(Environment(workload_identity=True), stored=True)
    assert identity.fix == (
        "unset OPENAI_FEDERATION_RULE_ID and OPENAI_IDENTITY_TOKEN_FILE to use the stored login"
    )
    both = environment_check(Environment(workload_identity=True, codex_api_key=KEY), stored=True)
    assert both.said == (
        f"in effect, in order: workload identity (OPENAI_FEDERATION_RULE_ID), CODEX_API_KEY "
        f"({masked}); workload identity is used instead of the stored login"
    )


@pytest.mark.parametrize(
    ("ahead", "ok"),
    [
        (timedelta(0), True),
        (CLOCK_TOLERANCE, True),
        (CLOCK_TOLERANCE + timedelta(minutes=1), False),
    ],
)
def test_an_iat_beyond_the_tolerance_is_a_skewed_clock(ahead: timedelta, ok: bool) -> None:
    token = access_token(NOW + ahead + timedelta(hours=1), issued_at=NOW + ahead)
    record = chatgpt_record()
    assert record.tokens is not None
    skewed = attrs.evolve(record, tokens=attrs.evolve(record.tokens, access_token=token))
    assert expiry_check(skewed, NOW).ok is ok
