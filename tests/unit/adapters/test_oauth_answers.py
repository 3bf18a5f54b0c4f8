"""An issuer's answers (grants, metadata, device codes), read leniently through one
converter, as OAuth clients must."""

from __future__ import annotations

from typing import Any

import pytest

from codex_login.adapters.oauth_answers import (
    DeviceAuthorization,
    IssuerMetadata,
    OpenAIDeviceApproval,
    OpenAIDeviceCode,
    read_device_authorization,
    read_grant,
    read_metadata,
    read_openai_approval,
    read_openai_device_code,
)
from codex_login.domain.tokens import TokenGrant


def test_a_grant_holds_the_tokens_that_are_non_empty_strings() -> None:
    document = {"id_token": "i", "access_token": "", "refresh_token": 42, "scope": "openid"}
    assert read_grant(document) == TokenGrant(id_token="i")


def test_metadata_keeps_the_fields_used_and_ignores_the_rest() -> None:
    document = {
        "issuer": "https://issuer.example",
        "authorization_endpoint": "https://issuer.example/authorize",
        "token_endpoint": "https://issuer.example/token",
        "revocation_endpoint": None,
        "device_authorization_endpoint": ["not", "text"],
        "authorization_response_iss_parameter_supported": True,
        "jwks_uri": "https://issuer.example/jwks",
    }
    assert read_metadata(document) == IssuerMetadata(
        issuer="https://issuer.example",
        authorization_endpoint="https://issuer.example/authorize",
        token_endpoint="https://issuer.example/token",
        authorization_response_iss_parameter_supported=True,
    )


@pytest.mark.parametrize("value", ["true", 1, None, "yes"])
def test_only_json_true_sets_a_flag(value: Any) -> None:
    document = {"authorization_response_iss_parameter_supported": value}
    assert read_metadata(document).authorization_response_iss_parameter_supported is False


def test_a_device_authorization_keeps_its_fields_and_drops_what_is_not_usable() -> None:
    document = {
        "device_code": "d",
        "user_code": "ABCD-EFGH",
        "verification_url": "https://issuer.example/device",
        "verification_uri_complete": "",
        "interval": "7",
        "expires_in": True,
        "extra": {"ignored": 1},
    }
    assert read_device_authorization(document) == DeviceAuthorization(
        device_code="d",
        user_code="ABCD-EFGH",
        verification_url="https://issuer.example/device",
        interval=7.0,
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        (2.5, 2.5),
        ("600", 600.0),
        (0, None),
        (-3, None),
        (24 * 3600, None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        (False, None),
        ([5], None),
        (None, None),
    ],
)
def test_seconds_are_positive_numbers_under_a_day_or_absent(
    value: Any, seconds: float | None
) -> None:
    assert read_openai_device_code({"interval": value}).interval == seconds


def test_the_openai_device_answers_hold_their_codes_out_of_repr() -> None:
    code = read_openai_device_code({"device_auth_id": "secret-id", "user_code": "U-1"})
    approval = read_openai_approval({"authorization_code": "c0de", "code_verifier": 42})
    assert code == OpenAIDeviceCode(device_auth_id="secret-id", user_code="U-1")
    assert approval == OpenAIDeviceApproval(authorization_code="c0de")
    assert "secret-id" not in repr(code)
    assert "c0de" not in repr(approval)
