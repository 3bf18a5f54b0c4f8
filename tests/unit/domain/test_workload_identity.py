"""The rules of a workload identity: which variables select it, what an answer must hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login.domain.errors import ConfigurationError, TokenEndpointError
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.workload_identity import (
    ACCESS_TOKEN_TYPE,
    MAX_ASSERTION_BYTES,
    Subject,
    WorkloadIdentity,
    checked_assertion,
    exchange_due_at,
    read_workload_grant,
    select_workload_identity,
)


def test_nothing_set_selects_nothing() -> None:
    assert select_workload_identity(rule_id=None, token_file=None) is None


def test_both_set_select_it_trimmed() -> None:
    selected = select_workload_identity(
        rule_id=" idpm_1 ", token_file="/run/token", context='{"a":1}'
    )
    assert selected == WorkloadIdentity("idpm_1", Path("/run/token"), '{"a":1}')
    assert '{"a":1}' not in repr(selected)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rule_id": "r"}, "requires OPENAI_IDENTITY_TOKEN_FILE"),
        ({"token_file": "/t"}, "requires OPENAI_FEDERATION_RULE_ID"),
        ({"rule_id": "  ", "token_file": "/t"}, "requires OPENAI_FEDERATION_RULE_ID"),
        ({"rule_id": "r", "token_file": "t"}, "must be an absolute path"),
        ({"rule_id": "r", "source": "spiffe"}, "not supported by codex-login"),
        ({"rule_id": "r", "token_file": "/t", "source": "aws"}, "must be file or spiffe"),
    ],
)
def test_a_partial_or_unsupported_configuration_is_refused(
    values: dict[str, str], message: str
) -> None:
    arguments: dict[str, Any] = {"rule_id": None, "token_file": None, **values}
    with pytest.raises(ConfigurationError, match=message):
        select_workload_identity(**arguments)


def test_the_identity_token_is_trimmed_text_of_at_most_16_kib() -> None:
    path = Path("/t")
    assert checked_assertion(b"  eyJ.x.y \n", path) == "eyJ.x.y"
    for bad in (b"", b" \n", b"\xff\xfe", b"x" * (MAX_ASSERTION_BYTES + 1)):
        with pytest.raises(ConfigurationError, match="/t"):
            checked_assertion(bad, path)


def answer(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "access_token": "at",
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "openid",
        "chatgpt_account_id": "ws",
        "chatgpt_account_user_id": "member",
        "user_id": "user",
        "chatgpt_plan_type": "enterprise",
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def test_an_answer_gives_the_token_and_its_subject() -> None:
    grant = read_workload_grant(answer())
    assert grant.subject == Subject("user", "ws", "member")
    assert (grant.expires_in, grant.plan_type) == (600, "enterprise")
    assert "at" not in repr(grant).replace("WorkloadGrant", "").replace("plan_type", "")


@pytest.mark.parametrize(
    "changes",
    [
        {"access_token": None},
        {"user_id": None},
        {"chatgpt_account_id": None},
        {"chatgpt_account_user_id": None},
        {"token_type": "DPoP"},
        {"issued_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"expires_in": 0},
        {"expires_in": "600"},
        {"expires_in": True},
    ],
)
def test_an_incomplete_answer_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(TokenEndpointError, match="workload identity exchange"):
        read_workload_grant(answer(**changes))


def test_the_next_exchange_is_due_by_the_refresh_policy() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert exchange_due_at(RefreshPolicy(), now, 3600) == now + timedelta(minutes=55)
    assert exchange_due_at(RefreshPolicy(), now, 60) == now + timedelta(seconds=30)
