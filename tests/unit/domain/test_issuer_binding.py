"""A token goes only to the issuer that issued it (SPEC §3, binding)."""

from __future__ import annotations

import attrs
import pytest

from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import ConfigurationError, IssuerMismatch
from codex_login.domain.issuer import (
    DEFAULT_CLIENT_ID,
    DEFAULT_ISSUER,
    IssuerProfile,
    bind,
    issuer_config,
    provenance_of,
)
from codex_login.domain.tokens import Provenance, TokenData
from support.tokens import make_jwt

LOCAL = "http://127.0.0.1:4444"


def tokens(claims: dict[str, object], provenance: Provenance | None = None) -> TokenData:
    return TokenData(
        id_token=parse_id_token(make_jwt(claims)),
        access_token="at",
        refresh_token="rt",
        provenance=provenance,
    )


def test_the_recorded_provenance_comes_first() -> None:
    recorded = Provenance(LOCAL, "app_local")
    found = tokens({"iss": DEFAULT_ISSUER, "aud": ["x"]}, recorded)
    assert provenance_of(found, DEFAULT_CLIENT_ID) == recorded


@pytest.mark.parametrize(
    ("claims", "client"),
    [
        ({"iss": LOCAL + "/", "aud": ["app_a"]}, "app_a"),
        ({"iss": LOCAL, "aud": "app_a"}, "app_a"),
        ({"iss": LOCAL, "aud": ["app_a", "api"], "azp": "app_b"}, "app_b"),
        ({"iss": LOCAL, "aud": ["app_a", DEFAULT_CLIENT_ID]}, DEFAULT_CLIENT_ID),
        ({"iss": LOCAL, "aud": ["app_a", "api"]}, DEFAULT_CLIENT_ID),
    ],
)
def test_older_files_are_bound_by_the_id_token(claims: dict[str, object], client: str) -> None:
    assert provenance_of(tokens(claims), DEFAULT_CLIENT_ID) == Provenance(LOCAL, client)


def test_an_id_token_without_iss_falls_back_to_the_configured_issuer() -> None:
    configured = issuer_config(issuer=LOCAL, client_id="app_c")
    assert provenance_of(tokens({"aud": ["x"]}), "app_c") is None
    assert bind(tokens({"aud": ["x"]}), configured) == configured


def test_an_unconfigured_environment_follows_the_stored_issuer() -> None:
    bound = bind(tokens({}, Provenance(LOCAL, "app_local")), issuer_config())
    assert (bound.issuer, bound.client_id) == (LOCAL, "app_local")
    assert bound.profile is IssuerProfile.STANDARD


def test_a_stored_default_issuer_speaks_openai_even_under_another_setting() -> None:
    configured = attrs.evolve(issuer_config(issuer=LOCAL), explicit=False)
    bound = bind(tokens({}, Provenance(DEFAULT_ISSUER, DEFAULT_CLIENT_ID)), configured)
    assert bound.issuer == DEFAULT_ISSUER
    assert bound.profile is IssuerProfile.OPENAI


def test_a_forced_profile_and_url_overrides_survive_binding() -> None:
    configured = issuer_config(profile="openai", refresh_url=LOCAL + "/refresh")
    bound = bind(tokens({}, Provenance(LOCAL, "app_local")), configured)
    assert bound.profile is IssuerProfile.OPENAI
    assert bound.refresh_url_override == LOCAL + "/refresh"


def test_an_explicit_issuer_that_differs_is_refused_naming_both() -> None:
    configured = issuer_config(issuer="https://idp.example")
    with pytest.raises(IssuerMismatch) as caught:
        bind(tokens({}, Provenance(LOCAL, "app_local")), configured)
    message = str(caught.value)
    assert LOCAL in message
    assert "https://idp.example" in message
    assert "\n" not in message


def test_an_explicit_issuer_that_matches_is_fine() -> None:
    configured = issuer_config(issuer=LOCAL + "/", client_id="other")
    bound = bind(tokens({}, Provenance(LOCAL, "app_local")), configured)
    assert bound.client_id == "app_local"


def test_a_stored_issuer_that_is_not_https_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="https://"):
        bind(tokens({}, Provenance("http://evil.example", "app")), issuer_config())
