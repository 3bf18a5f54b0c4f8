"""The testing kit's fake Codex backend, served on loopback and called as clients call it:
the openai SDK (sync and async, streaming and not) and raw httpx for its 401 rules."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest

from codex_login import CodexAuth
from codex_login.testing.backend import FakeBackend, running_backend
from codex_login.testing.clock import SettableClock
from codex_login.testing.issuer import FakeIssuer, running_issuer

ACCOUNT = "acc-123"  # the fake issuer's default ChatGPT account


def chatgpt_client(backend: FakeBackend, token: str, account: str = ACCOUNT) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=backend.url,
        api_key=token,
        default_headers={"ChatGPT-Account-ID": account},
        max_retries=0,
    )


def streamed_text(events: Any) -> str:
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


def post(url: str, token: str | None, account: str | None = ACCOUNT) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if account is not None:
        headers["ChatGPT-Account-ID"] = account
    return httpx.post(
        f"{url}/responses", json={"model": "m", "input": "hi"}, headers=headers, timeout=30
    )


def error_code(answer: httpx.Response) -> str:
    assert answer.status_code == 401, answer.text
    return str(answer.json()["error"]["code"])


@pytest.fixture
def clocked() -> Iterator[tuple[SettableClock, FakeBackend]]:
    """A backend whose issuer's time moves only when the test moves it."""
    clock = SettableClock()
    with (
        running_issuer(FakeIssuer(clock=clock)) as issuer,
        running_backend(FakeBackend(issuer)) as backend,
    ):
        yield clock, backend


# -- the ChatGPT flavour through the openai SDK ---------------------------------------------


def test_the_fixture_backend_is_linked_to_the_fixture_issuer(
    codex_fake_backend: FakeBackend, codex_fake_issuer: FakeIssuer
) -> None:
    assert codex_fake_backend.issuer is codex_fake_issuer
    assert codex_fake_backend.url.startswith("http://127.0.0.1:")
    assert codex_fake_backend.api_url == codex_fake_backend.url + "/v1"


def test_the_sdk_streams_an_answer_to_a_chatgpt_login(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    codex_fake_backend.text = "Streamed over loopback."
    with (
        chatgpt_client(codex_fake_backend, codex_auth.get_token()) as client,
        client.responses.create(model="gpt-5-codex", input="hi", stream=True) as stream,
    ):
        events = list(stream)
    assert streamed_text(events) == "Streamed over loopback."
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Streamed over loopback."


def test_the_sdk_gets_a_plain_response_without_stream(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    with chatgpt_client(codex_fake_backend, codex_auth.get_token()) as client:
        response = client.responses.create(model="gpt-5-codex", input="hi")
    assert (response.status, response.model) == ("completed", "gpt-5-codex")
    assert response.output_text == codex_fake_backend.text


def test_the_async_sdk_streams_and_gets_a_plain_response(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    token = codex_auth.get_token()

    async def both() -> tuple[str, str]:
        async with openai.AsyncOpenAI(
            base_url=codex_fake_backend.url,
            api_key=token,
            default_headers={"ChatGPT-Account-ID": ACCOUNT},
            max_retries=0,
        ) as client:
            stream = await client.responses.create(model="m", input="hi", stream=True)
            text = "".join(
                [e.delta async for e in stream if e.type == "response.output_text.delta"]
            )
            plain = await client.responses.create(model="m", input="hi")
            return text, plain.output_text

    assert asyncio.run(both()) == (codex_fake_backend.text, codex_fake_backend.text)


def test_the_sdk_raises_authentication_error_for_a_stale_token(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    stale = codex_auth.get_token()
    codex_auth.refresh()
    with (
        chatgpt_client(codex_fake_backend, stale) as client,
        pytest.raises(openai.AuthenticationError, match="refresh") as raised,
    ):
        client.responses.create(model="m", input="hi")
    assert raised.value.code == "token_superseded"


def test_codexs_model_catalogue_answers_with_the_login(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    login = {"Authorization": f"Bearer {codex_auth.get_token()}", "ChatGPT-Account-ID": ACCOUNT}
    answer = httpx.get(
        f"{codex_fake_backend.url}/models",
        params={"client_version": "0.171.0"},
        headers=login,
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (200, {"models": []})
    assert codex_fake_backend.requests_to("/models")[0].query == {"client_version": "0.171.0"}


def test_every_request_is_recorded_with_its_headers_and_body(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    token = codex_auth.get_token()
    with chatgpt_client(codex_fake_backend, token) as client:
        client.responses.create(model="m", input="what was sent", stream=True).close()
    assert post(codex_fake_backend.url, "not-a-token").status_code == 401
    first, refused = codex_fake_backend.requests
    assert (first.method, first.path) == ("POST", "/responses")
    assert first.header("authorization") == f"Bearer {token}"
    assert first.header("ChatGPT-Account-ID") == ACCOUNT
    assert first.json["input"] == "what was sent"
    assert refused.header("Authorization") == "Bearer not-a-token"


def test_an_unknown_path_is_a_recorded_404(codex_fake_backend: FakeBackend) -> None:
    answer = httpx.get(f"{codex_fake_backend.url}/wham/accounts/check", timeout=30)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert [r.path for r in codex_fake_backend.requests] == ["/wham/accounts/check"]


# -- the 401 rules, with raw httpx -------------------------------------------------------


def test_the_current_token_passes_and_an_expired_one_is_refused(
    clocked: tuple[SettableClock, FakeBackend],
) -> None:
    clock, backend = clocked
    assert isinstance(backend.issuer, FakeIssuer)
    tokens = backend.issuer.login_record().tokens
    assert tokens is not None
    assert post(backend.url, tokens.access_token).status_code == 200
    clock.advance(timedelta(hours=1))
    assert error_code(post(backend.url, tokens.access_token)) == "token_expired"


def test_a_token_superseded_by_a_refresh_is_refused_and_the_new_one_passes(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    old = codex_auth.get_token()
    new = codex_auth.refresh().token
    assert error_code(post(codex_fake_backend.url, old)) == "token_superseded"
    assert post(codex_fake_backend.url, new).status_code == 200


def test_a_token_of_a_logged_out_login_is_refused(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    token = codex_auth.get_token()
    codex_auth.logout()
    assert error_code(post(codex_fake_backend.url, token)) == "token_revoked"


def test_a_wrong_account_header_is_refused(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    answer = post(codex_fake_backend.url, codex_auth.get_token(), account="acc-other")
    assert error_code(answer) == "account_mismatch"


def test_a_missing_account_header_is_refused(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    answer = post(codex_fake_backend.url, codex_auth.get_token(), account=None)
    assert error_code(answer) == "missing_account_id"


def test_a_missing_authorization_header_is_refused(codex_fake_backend: FakeBackend) -> None:
    answer = post(codex_fake_backend.url, None)
    assert error_code(answer) == "missing_authorization"
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_the_catalogue_is_refused_without_the_login_too(codex_fake_backend: FakeBackend) -> None:
    answer = httpx.get(f"{codex_fake_backend.url}/models", timeout=30)
    assert error_code(answer) == "missing_authorization"


# -- the API-key flavour under /v1 -----------------------------------------------------------


def test_the_api_key_flavour_takes_the_issuers_key_through_the_sdk(
    codex_fake_backend: FakeBackend, codex_fake_issuer: FakeIssuer
) -> None:
    with openai.OpenAI(
        base_url=codex_fake_backend.api_url, api_key=codex_fake_issuer.api_key, max_retries=0
    ) as client:
        assert [model.id for model in client.models.list()] == [codex_fake_backend.model]
        with client.responses.create(model="m", input="hi", stream=True) as stream:
            assert streamed_text(stream) == codex_fake_backend.text
        answer = client.responses.create(model="m", input="hi")
        assert answer.output_text == codex_fake_backend.text
    assert [r.path for r in codex_fake_backend.requests] == [
        "/v1/models",
        "/v1/responses",
        "/v1/responses",
    ]


def test_the_api_key_flavour_takes_the_keys_it_is_given_and_refuses_others(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    codex_fake_backend.api_keys.add("sk-given")
    api = codex_fake_backend.api_url
    assert post(api, "sk-given", account=None).status_code == 200
    assert error_code(post(api, "sk-other", account=None)) == "invalid_api_key"
    # A ChatGPT login's access token is no API key (as at api.openai.com).
    assert error_code(post(api, codex_auth.get_token())) == "invalid_api_key"
    with (
        openai.OpenAI(base_url=api, api_key="sk-other", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()


# -- what the Codex CLI sends: a WebSocket first, compressed bodies -------------------------


def test_a_websocket_attempt_is_told_to_use_http(codex_fake_backend: FakeBackend) -> None:
    answer = httpx.get(f"{codex_fake_backend.url}/responses", timeout=30)
    assert answer.status_code == 426  # Codex falls back to POST /responses at once
    assert codex_fake_backend.requests_to("/responses")[0].method == "GET"


def test_a_gzip_body_is_read_and_recorded_decompressed(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    headers = {
        "Authorization": f"Bearer {codex_auth.get_token()}",
        "ChatGPT-Account-ID": ACCOUNT,
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    body = gzip.compress(json.dumps({"model": "zipped", "input": "hi"}).encode())
    answer = httpx.post(
        f"{codex_fake_backend.url}/responses", content=body, headers=headers, timeout=30
    )
    assert (answer.status_code, answer.json()["model"]) == (200, "zipped")
    assert codex_fake_backend.requests[0].json == {"model": "zipped", "input": "hi"}


def test_a_body_it_cannot_decompress_is_answered_as_a_stream(
    codex_auth: CodexAuth, codex_fake_backend: FakeBackend
) -> None:
    headers = {
        "Authorization": f"Bearer {codex_auth.get_token()}",
        "ChatGPT-Account-ID": ACCOUNT,
        "Content-Type": "application/json",
        "Content-Encoding": "br",  # no brotli here, as no zstd before Python 3.14
    }
    answer = httpx.post(
        f"{codex_fake_backend.url}/responses", content=b"\x0b\x02", headers=headers, timeout=30
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    recorded = codex_fake_backend.requests[0]
    assert (recorded.json, recorded.content_type) == (None, "application/octet-stream")
