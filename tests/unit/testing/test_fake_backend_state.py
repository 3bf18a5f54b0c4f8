"""The testing kit's backend state, without HTTP: which tokens pass, what it answers.

It decides from what its issuer knows of each access token (``issued_access``), so
the issuer's side of that is tested here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from codex_login.testing.backend.state import BackendState
from codex_login.testing.clock import SettableClock
from codex_login.testing.issuer.state import IssuerState
from codex_login.testing.issuer.values import IssuedAccess

URL = "http://127.0.0.1:1"
ACCOUNT = "acc-123"  # the account of the kit's ID tokens unless the issuer's claims say


def issuer(clock: SettableClock | None = None) -> IssuerState:
    state = IssuerState(clock=clock or SettableClock(), access_ttl=timedelta(hours=1))
    state.url = URL
    return state


def login(state: IssuerState) -> tuple[str, str]:
    """A new grant's (access token, refresh token)."""
    tokens = state.issue_tokens(state.new_refresh_token())
    return tokens["access_token"], tokens["refresh_token"]


def refreshed(state: IssuerState, refresh_token: str) -> tuple[str, str]:
    answer = state.refresh(refresh_token)
    assert answer.status == 200
    return answer.document["access_token"], answer.document["refresh_token"]


def issued(state: IssuerState, token: str) -> IssuedAccess:
    found = state.issued_access(token)
    assert found is not None, "the issuer does not know the token"
    return found


def chatgpt(token: str, account: str | None = ACCOUNT) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if account is not None:
        headers["ChatGPT-Account-ID"] = account
    return headers


def code(reply: Any) -> str:
    assert reply is not None, "the request was let through"
    assert reply.status == 401
    return str(reply.document["error"]["code"])


# -- what the issuer knows of its access tokens ----------------------------------------


def test_a_new_access_token_is_current_with_its_account_and_expiry() -> None:
    clock = SettableClock()
    state = issuer(clock)
    token, _ = login(state)
    access = issued(state, token)
    assert (access.standing, access.account_id) == ("current", ACCOUNT)
    assert access.expires_at == clock.now() + timedelta(hours=1)


def test_a_refresh_supersedes_the_access_token_it_replaces() -> None:
    state = issuer()
    old, refresh_token = login(state)
    new, _ = refreshed(state, refresh_token)
    assert [issued(state, t).standing for t in (old, new)] == ["superseded", "current"]


def test_revoking_the_grant_revokes_its_access_token() -> None:
    state = issuer()
    token, refresh_token = login(state)
    state.revoke(refresh_token)
    assert issued(state, token).standing == "revoked"


def test_an_access_token_the_issuer_never_issued_is_unknown() -> None:
    assert issuer().issued_access("at-nobody") is None


def test_the_account_follows_the_issuers_claims() -> None:
    state = issuer()
    state.claims = {"account_id": "ws-42"}
    with_workspace, _ = login(state)
    state.claims = {"account_id": None}
    without, _ = login(state)
    assert [issued(state, t).account_id for t in (with_workspace, without)] == ["ws-42", None]


# -- the ChatGPT flavour: the issuer's current token, and its account -------------------


def test_the_current_token_with_its_account_passes() -> None:
    state = issuer()
    token, _ = login(state)
    assert BackendState(state).chatgpt_refusal(chatgpt(token)) is None


def test_header_names_and_the_bearer_scheme_are_case_insensitive() -> None:
    state = issuer()
    token, _ = login(state)
    headers = {"authorization": f"bearer {token}", "chatgpt-account-id": ACCOUNT}
    assert BackendState(state).chatgpt_refusal(headers) is None


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token x"]
)
def test_no_bearer_token_is_refused(authorization: str | None) -> None:
    headers = {"ChatGPT-Account-ID": ACCOUNT}
    if authorization is not None:
        headers["Authorization"] = authorization
    assert code(BackendState(issuer()).chatgpt_refusal(headers)) == "missing_authorization"


def test_a_token_of_another_issuer_is_refused() -> None:
    other, _ = login(issuer())
    assert code(BackendState(issuer()).chatgpt_refusal(chatgpt(other))) == "invalid_token"


def test_an_expired_token_is_refused_on_the_issuers_clock() -> None:
    clock = SettableClock()
    state = issuer(clock)
    token, _ = login(state)
    backend = BackendState(state)
    clock.advance(timedelta(hours=1) - timedelta(seconds=1))
    assert backend.chatgpt_refusal(chatgpt(token)) is None
    clock.advance(timedelta(seconds=1))
    reply = backend.chatgpt_refusal(chatgpt(token))
    assert code(reply) == "token_expired"
    assert reply is not None
    assert reply.document["error"]["type"] == "invalid_request_error"


def test_a_token_superseded_by_a_refresh_is_refused_and_the_new_one_passes() -> None:
    state = issuer()
    old, refresh_token = login(state)
    new, _ = refreshed(state, refresh_token)
    backend = BackendState(state)
    assert code(backend.chatgpt_refusal(chatgpt(old))) == "token_superseded"
    assert backend.chatgpt_refusal(chatgpt(new)) is None


def test_a_token_of_a_revoked_login_is_refused() -> None:
    state = issuer()
    token, refresh_token = login(state)
    state.revoke(refresh_token)
    assert code(BackendState(state).chatgpt_refusal(chatgpt(token))) == "token_revoked"


def test_a_missing_account_header_is_refused() -> None:
    state = issuer()
    token, _ = login(state)
    refused = BackendState(state).chatgpt_refusal(chatgpt(token, account=None))
    assert code(refused) == "missing_account_id"


@pytest.mark.parametrize("account", ["acc-999", "", "ACC-123"])
def test_another_account_is_refused(account: str) -> None:
    state = issuer()
    token, _ = login(state)
    refused = BackendState(state).chatgpt_refusal(chatgpt(token, account=account))
    assert code(refused) == "account_mismatch"


def test_a_login_without_an_account_passes_without_the_header_and_not_with_one() -> None:
    state = issuer()
    state.claims = {"account_id": None}
    token, _ = login(state)
    backend = BackendState(state)
    assert backend.chatgpt_refusal(chatgpt(token, account=None)) is None
    assert code(backend.chatgpt_refusal(chatgpt(token))) == "account_mismatch"


# -- the API-key flavour -----------------------------------------------------------------


def test_the_issuers_exchanged_key_and_the_given_keys_pass() -> None:
    state = issuer()
    backend = BackendState(state, api_keys=["sk-given"])
    for key in (state.api_key, "sk-given"):
        assert backend.api_key_refusal({"Authorization": f"Bearer {key}"}) is None
    state.api_key = "sk-changed"
    assert backend.accepted_api_keys() == {"sk-given", "sk-changed"}


def test_an_unknown_key_or_a_chatgpt_access_token_is_refused_as_an_api_key() -> None:
    state = issuer()
    token, _ = login(state)
    backend = BackendState(state)
    for bearer in ("sk-unknown", token):
        assert code(backend.api_key_refusal(chatgpt(bearer))) == "invalid_api_key"
    assert code(backend.api_key_refusal({})) == "missing_authorization"


def test_an_api_key_is_refused_by_the_chatgpt_flavour() -> None:
    state = issuer()
    assert code(BackendState(state).chatgpt_refusal(chatgpt(state.api_key))) == "invalid_token"


# -- what it answers ---------------------------------------------------------------------


def test_the_answer_names_the_requested_model_or_the_default() -> None:
    backend = BackendState(issuer(), model="the-default")
    assert backend.answer({"model": "asked-for"}).model == "asked-for"
    assert backend.answer({}).model == "the-default"


def test_each_answer_has_its_own_ids() -> None:
    backend = BackendState(issuer())
    first, second = backend.answer({}), backend.answer({})
    assert first.response_id != second.response_id
    assert first.message_id != second.message_id


def test_the_events_validate_as_the_openai_sdks_and_the_deltas_make_the_text() -> None:
    backend = BackendState(issuer(), text="  Two words\nand more ")
    events = backend.answer({"model": "m"}).events()
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    parsed = [adapter.validate_python(event) for event in events]
    assert [event.sequence_number for event in parsed] == list(range(len(events)))
    assert [e.type for e in parsed][:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert [e.type for e in parsed][-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in parsed if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "  Two words\nand more "
    assert len(deltas) == 4
    assert parsed[-1].response.output_text == "  Two words\nand more "


def test_an_empty_text_streams_no_delta() -> None:
    events = BackendState(issuer(), text="").answer({}).events()
    assert "response.output_text.delta" not in [event["type"] for event in events]


def test_the_plain_answer_validates_as_a_completed_response() -> None:
    document = BackendState(issuer(), text="hi there").answer({}).response()
    response = Response.model_validate(document)
    assert (response.status, response.output_text) == ("completed", "hi there")
    assert response.usage is not None


def test_the_model_lists_have_codexs_and_the_public_apis_shapes() -> None:
    backend = BackendState(issuer(), model="m-1")
    assert backend.chatgpt_models() == {"models": []}
    backend.models = [{"slug": "m-1"}]
    assert backend.chatgpt_models() == {"models": [{"slug": "m-1"}]}
    assert backend.api_models()["data"][0]["id"] == "m-1"
