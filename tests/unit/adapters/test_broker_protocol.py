"""The broker's wire format: one converter, read back as written, strict on what it reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.adapters.broker_protocol import (
    ErrorAnswer,
    RefreshRequest,
    TokenAnswer,
    dumps,
    loads,
)
from codex_login.domain.model_api import ModelApi
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
text = st.text(min_size=1)
answers = st.builds(
    TokenAnswer,
    access_token=text,
    expires_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    expires_in=st.none() | st.integers(min_value=0),
    account_id=st.none() | text,
    mode=st.sampled_from(AuthMode),
)


@given(answers)
def test_a_token_answer_reads_back_as_written(answer: TokenAnswer) -> None:
    assert loads(dumps(answer).encode(), TokenAnswer) == answer


def test_a_token_answer_keeps_the_documented_keys_in_order() -> None:
    token = AccessToken(AuthMode.API_KEY, "sk-1", NOW + timedelta(seconds=90.5), "acc")
    assert json.loads(dumps(TokenAnswer.of(token, now=NOW))) == {
        "access_token": "sk-1",
        "token_type": "Bearer",
        "expires_at": "2026-12-01T12:01:30.500Z",
        "expires_in": 90,
        "account_id": "acc",
        "mode": "apikey",
    }
    assert list(json.loads(dumps(TokenAnswer.of(token, now=NOW)))) == [
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "account_id",
        "mode",
    ]


def test_a_newer_brokers_extra_keys_are_ignored_and_an_older_ones_mode_understood() -> None:
    data = b'{"access_token": "t", "mode": "api_key", "base_url": "x", "headers": {}}'
    assert loads(data, TokenAnswer).token() == AccessToken(AuthMode.API_KEY, "t")


@pytest.mark.parametrize(
    "document",
    [
        {"mode": "chatgpt"},
        {"access_token": "", "mode": "chatgpt"},
        {"access_token": "t", "mode": "agentIdentity"},
        {"access_token": 5, "mode": "chatgpt"},
        {"access_token": "t", "mode": "chatgpt", "expires_in": "60"},
        {"access_token": "t", "mode": "chatgpt", "expires_in": True},
        {"access_token": "t", "mode": "chatgpt", "account_id": 7},
        {"access_token": "t", "mode": "chatgpt", "expires_at": "tomorrow"},
    ],
)
def test_a_token_answer_of_the_wrong_shape_is_refused_not_coerced(
    document: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="not a TokenAnswer"):
        loads(json.dumps(document).encode(), TokenAnswer)


@pytest.mark.parametrize("data", [b"", b"<html>", b"[]", b'"text"'])
def test_what_is_no_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="not"):
        loads(data, ErrorAnswer)


def test_errors_and_refresh_requests_are_written_as_specified() -> None:
    assert dumps(ErrorAnswer("bad_request", "why")) == '{"error": "bad_request", "message": "why"}'
    assert loads(b'{"stale": "t"}', RefreshRequest) == RefreshRequest("t")
    with pytest.raises(ValueError, match="not a RefreshRequest"):
        loads(b'{"stale": ""}', RefreshRequest)


# -- the model API beside the token (issue 23, item 4) ----------------------------------


def test_a_token_answer_says_the_model_api_after_the_documented_keys() -> None:
    token = AccessToken(AuthMode.CHATGPT, "at-1", NOW + timedelta(hours=1), "acc")
    api = ModelApi("https://gw.example/v1", {"Authorization": "Bearer at-1", "X-A": "b"})
    written = json.loads(dumps(TokenAnswer.of(token, now=NOW, api=api)))
    assert list(written)[-2:] == ["base_url", "headers"]
    assert (written["base_url"], written["headers"]) == (
        "https://gw.example/v1",
        {"Authorization": "Bearer at-1", "X-A": "b"},
    )
    read = loads(json.dumps(written).encode(), TokenAnswer)
    assert (read.token(), read.model_api()) == (token, api)


def test_an_older_brokers_answer_has_no_model_api() -> None:
    assert loads(b'{"access_token": "t", "mode": "chatgpt"}', TokenAnswer).model_api() is None


@pytest.mark.parametrize(
    "extra", [{"base_url": 5}, {"headers": {"Authorization": 5}}, {"headers": ["x"]}]
)
def test_a_model_api_of_the_wrong_shape_is_refused(extra: dict[str, object]) -> None:
    document = {"access_token": "t", "mode": "chatgpt", "base_url": "https://x", **extra}
    with pytest.raises(ValueError, match="not a TokenAnswer"):
        loads(json.dumps(document).encode(), TokenAnswer)
