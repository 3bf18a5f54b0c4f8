"""The testing kit's issuer state, without HTTP: each decision it makes, called directly."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from codex_login.domain.claims import parse_id_token
from codex_login.domain.plans import parse_plan
from codex_login.testing.issuer.state import IssuerState
from codex_login.testing.issuer.values import Failure, Reply, s256

URL = "http://127.0.0.1:1"
CALLBACK = "http://localhost:1455/auth/callback"
VERIFIER = "v" * 43


def state() -> IssuerState:
    issuer = IssuerState()
    issuer.url = URL
    return issuer


def authorize(issuer: IssuerState, **query: str) -> dict[str, list[str]]:
    base = {"redirect_uri": CALLBACK, "state": "s", "client_id": "app_x"}
    answer = issuer.authorization(base | query)
    assert isinstance(answer, str)
    assert answer.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(answer).query)


def test_a_code_is_issued_for_pkce_and_exchanged_once() -> None:
    issuer = state()
    sent = authorize(issuer, code_challenge=s256(VERIFIER), code_challenge_method="S256")
    assert sent["state"] == ["s"]
    assert sent["iss"] == [URL]
    fields = {
        "code": sent["code"][0],
        "redirect_uri": CALLBACK,
        "client_id": "app_x",
        "code_verifier": VERIFIER,
    }
    first = issuer.exchange_code(fields)
    assert first.status == 200
    assert issuer.refresh_token_works(first.document["refresh_token"])
    assert issuer.exchange_code(fields).document["error"] == "invalid_grant"


def test_an_authorization_without_pkce_is_sent_back_as_an_error() -> None:
    sent = authorize(state())
    assert sent["error"] == ["invalid_request"]
    assert "code" not in sent


def test_a_missing_redirect_uri_is_refused_without_a_redirect() -> None:
    assert state().authorization({}) == Reply(
        400,
        {"error": "invalid_request", "error_description": "redirect_uri is missing or not a URL"},
    )


def test_a_refresh_rotates_and_reusing_a_spent_token_revokes_the_grant() -> None:
    issuer = state()
    first = issuer.new_refresh_token()
    second = issuer.refresh(first).document["refresh_token"]
    assert issuer.refresh_token_works(second)
    assert issuer.refresh(first).document["error"] == "refresh_token_reused"
    assert not issuer.refresh_token_works(second)


def test_a_failure_counts_down_and_is_then_removed() -> None:
    issuer = state()
    issuer.failures["refresh"] = Failure(times=2)
    assert issuer.take_failure("refresh") is not None
    assert issuer.take_failure("refresh") is not None
    assert issuer.take_failure("refresh") is None
    assert "refresh" not in issuer.failures


def test_a_device_login_is_pending_until_approved_and_then_used_once() -> None:
    issuer = state()
    device = issuer.new_device()
    assert issuer.device_grant(device.device_code).document["error"] == "authorization_pending"
    issuer.approve_device(device.user_code)
    assert issuer.device_grant(device.device_code).status == 200
    assert issuer.device_grant(device.device_code).document["error"] == "authorization_pending"


def test_a_denied_device_login_says_access_denied() -> None:
    issuer = state()
    device = issuer.new_device()
    issuer.deny_device(device.user_code)
    assert issuer.device_grant(device.device_code).document["error"] == "access_denied"


def test_the_metadata_drops_the_keys_a_test_set_to_none() -> None:
    issuer = state()
    issuer.metadata = {"revocation_endpoint": None}
    document = issuer.metadata_document()
    assert document["issuer"] == URL
    assert "revocation_endpoint" not in document


def test_a_refresh_answers_for_the_user_who_signed_in_and_the_plan_of_now() -> None:
    issuer = state()
    issuer.claims = {"email": "alice@example.com", "account_id": "ws-a"}
    alices = issuer.new_refresh_token()
    issuer.claims = {"email": "bob@example.com", "account_id": "ws-b"}
    issuer.plan = "team"
    refreshed = issuer.refresh(alices).document
    who = parse_id_token(refreshed["id_token"])
    assert (who.email, who.account_id) == ("alice@example.com", "ws-a")
    assert who.plan == parse_plan("team")
    issued = issuer.issued_access(refreshed["access_token"])
    assert issued is not None
    assert issued.account_id == "ws-a"
    bobs = parse_id_token(issuer.issue_tokens(issuer.new_refresh_token())["id_token"])
    assert (bobs.email, bobs.account_id) == ("bob@example.com", "ws-b")
