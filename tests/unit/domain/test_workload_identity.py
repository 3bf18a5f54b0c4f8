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
    JwtSvid,
    SpiffeSource,
    Subject,
    WorkloadIdentity,
    check_not_expired,
    checked_assertion,
    chosen_svid,
    exchange_due_at,
    is_spiffe_id,
    read_workload_grant,
    select_workload_identity,
)
from codex_login.testing.tokens import make_jwt


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
        ({"rule_id": "r", "source": "spiffe"}, "requires SPIFFE_ENDPOINT_SOCKET"),
        ({"rule_id": "r", "token_file": "/t", "source": "aws"}, "must be file or spiffe"),
    ],
)
def test_a_partial_or_unsupported_configuration_is_refused(
    values: dict[str, str], message: str
) -> None:
    arguments: dict[str, Any] = {"rule_id": None, "token_file": None, **values}
    with pytest.raises(ConfigurationError, match=message):
        select_workload_identity(**arguments)


SOCKET = "unix:///run/spire/agent.sock"
CI_ID = "spiffe://example.org/ci"


def test_spiffe_selects_the_workload_api_with_its_audience_trimmed() -> None:
    selected = select_workload_identity(
        rule_id="r",
        token_file=None,
        source="spiffe",
        spiffe_socket=SOCKET,
        spiffe_audience=" https://auth.openai.com ",
        spiffe_id=CI_ID,
    )
    spiffe = SpiffeSource(Path("/run/spire/agent.sock"), "https://auth.openai.com", CI_ID)
    assert selected == WorkloadIdentity("r", None, None, spiffe)


def test_the_socket_alone_selects_nothing() -> None:
    """SPIFFE_ENDPOINT_SOCKET is the SPIRE agent's own variable: not a marker."""
    assert select_workload_identity(rule_id=None, token_file=None, spiffe_socket=SOCKET) is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"spiffe_audience": "a"}, "requires OPENAI_FEDERATION_RULE_ID"),
        ({"spiffe_id": CI_ID}, "requires OPENAI_FEDERATION_RULE_ID"),
        ({"source": "spiffe", "spiffe_socket": SOCKET}, "requires OPENAI_FEDERATION_RULE_ID"),
        ({"rule_id": "r", "spiffe_audience": "a"}, "require OPENAI_IDENTITY_TOKEN_SOURCE=spiffe"),
        (
            {"rule_id": "r", "token_file": "/t", "spiffe_id": CI_ID},
            "require OPENAI_IDENTITY_TOKEN_SOURCE=spiffe",
        ),
        ({"rule_id": "r", "source": "spiffe", "token_file": "/t"}, "cannot also set"),
        ({"rule_id": "r", "source": "spiffe", "spiffe_audience": "a"}, "requires SPIFFE_END"),
        (
            {"rule_id": "r", "source": "spiffe", "spiffe_socket": SOCKET},
            "requires OPENAI_SPIFFE_AUD",
        ),
        (
            {"rule_id": "r", "source": "spiffe", "spiffe_socket": SOCKET, "spiffe_audience": " "},
            "requires OPENAI_SPIFFE_AUDIENCE",
        ),
        (
            {
                "rule_id": "r",
                "source": "spiffe",
                "spiffe_socket": "/run/a.sock",
                "spiffe_audience": "a",
            },
            "absolute unix: socket URI",
        ),
        (
            {
                "rule_id": "r",
                "source": "spiffe",
                "spiffe_socket": "unix:a.sock",
                "spiffe_audience": "a",
            },
            "absolute unix: socket URI",
        ),
        (
            {
                "rule_id": "r",
                "source": "spiffe",
                "spiffe_socket": SOCKET,
                "spiffe_audience": "a",
                "spiffe_id": "spiffe://x/y?z",
            },
            "not a SPIFFE ID",
        ),
    ],
)
def test_a_partial_spiffe_configuration_is_refused_in_the_codex_cli_order(
    values: dict[str, str], message: str
) -> None:
    arguments: dict[str, Any] = {"rule_id": None, "token_file": None, **values}
    with pytest.raises(ConfigurationError, match=message):
        select_workload_identity(**arguments)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("spiffe://example.org/ci", True),
        ("spiffe://example.org", True),
        ("https://example.org/ci", False),
        ("spiffe:///ci", False),
        ("spiffe://user@example.org/ci", False),
        ("spiffe://example.org:8080/ci", False),
        ("spiffe://example.org/ci#x", False),
        ("", False),
    ],
)
def test_a_spiffe_id_is_a_spiffe_uri_with_a_trust_domain(value: str, valid: bool) -> None:
    assert is_spiffe_id(value) is valid


AUDIENCE = "https://auth.openai.com"


def svid(spiffe_id: str = CI_ID, **claims: object) -> JwtSvid:
    return JwtSvid(spiffe_id, make_jwt({"sub": spiffe_id, "aud": [AUDIENCE], **claims}))


def source(spiffe_id: str | None = None) -> SpiffeSource:
    return SpiffeSource(Path("/run/agent.sock"), AUDIENCE, spiffe_id)


def test_the_one_jwt_svid_is_the_identity_token_trimmed() -> None:
    one = svid()
    padded = JwtSvid(one.spiffe_id, f" {one.token}\n")
    assert chosen_svid([padded], source()) == one.token
    assert chosen_svid([one], source(CI_ID)) == one.token
    assert one.token not in repr(one)


@pytest.mark.parametrize(
    ("svids", "wanted", "message"),
    [
        ([], None, "returned no JWT-SVID"),
        ([svid(), svid("spiffe://example.org/b")], None, "2 JWT-SVIDs; set OPENAI_SPIFFE_ID"),
        ([svid(), svid("spiffe://example.org/b")], CI_ID, "2 JWT-SVIDs$"),
        ([JwtSvid(CI_ID, "x.y.z")], None, "invalid: not a JWT"),
        ([JwtSvid(CI_ID, "")], None, "invalid: not a JWT"),
        ([svid("repo:acme/app")], None, "sub is not a SPIFFE ID"),
        ([svid("spiffe://example.org/b")], CI_ID, "not spiffe://example.org/ci's"),
        ([JwtSvid(CI_ID, make_jwt({"sub": CI_ID, "aud": "other"}))], None, "aud does not hold"),
        ([JwtSvid(CI_ID, make_jwt({"sub": CI_ID}))], None, "aud does not hold"),
        ([svid(pad="x" * MAX_ASSERTION_BYTES)], None, "exceeds 16 KiB"),
    ],
)
def test_an_answer_is_refused_as_the_codex_cli_refuses_it(
    svids: list[JwtSvid], wanted: str | None, message: str
) -> None:
    """Measured with Codex 0.171 against the fake Workload API (CODEX_PEER_NOTES.md j)."""
    with pytest.raises(ConfigurationError, match=message):
        chosen_svid(svids, source(wanted))


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


@pytest.mark.parametrize(
    ("expires_in", "refused"),
    [
        (timedelta(minutes=-6), True),  # beyond the tolerance for clocks that disagree
        (timedelta(minutes=-4), False),  # within it: the issuer decides
        (timedelta(minutes=10), False),
    ],
)
def test_an_identity_token_expired_beyond_the_tolerance_is_refused_here(
    expires_in: timedelta, refused: bool
) -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    token = make_jwt({"sub": "ci", "exp": int((now + expires_in).timestamp())})
    if refused:
        with pytest.raises(ConfigurationError, match="expired at 2026-12-08T11:54:00Z"):
            check_not_expired(token, Path("/run/token"), now)
    else:
        check_not_expired(token, Path("/run/token"), now)
    check_not_expired("not-a-jwt", Path("/run/token"), now)  # the issuer's to judge
    check_not_expired(make_jwt({"exp": True}), Path("/run/token"), now)


@pytest.mark.parametrize("expiry", [1.7e12, 1e20, -1e20, float("nan"), float("inf")])
def test_an_exp_out_of_range_is_left_to_the_issuer(expiry: float) -> None:
    """Milliseconds, or nonsense: no datetime holds it; a crash here was a 'bug' line."""
    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    check_not_expired(make_jwt({"exp": expiry}), Path("/run/token"), now)
