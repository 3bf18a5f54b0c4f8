"""An issuer's answers, read leniently through one converter, as OAuth clients must."""

from __future__ import annotations

from typing import Any

import pytest

from codex_login.adapters.oauth_answers import IssuerMetadata, read_grant, read_metadata
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
