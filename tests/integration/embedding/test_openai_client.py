"""``codex_login.openai_client()`` and ``codex_login.aio.openai_client()``: the openai SDK
pointed at the login's model API and signed by it, in one call (issue 23, item 3),
against a loopback server recording every header."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import codex_login
import codex_login.aio
from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
from support.fake_issuer import FakeIssuer
from support.logins import stored, write_login
from support.loopback_api import MODELS
from support.recording_api import RecordingApi, recording_api

SIGNED = ("Authorization", "ChatGPT-Account-ID")
KEY = "sk-test-openai-client-0123456789"


@pytest.fixture
def api() -> Iterator[RecordingApi]:
    with recording_api() as running:
        running.answers["/v1/models"] = MODELS
        yield running


@pytest.fixture
def home(home: Path, api: RecordingApi) -> Path:
    """The private CODEX_HOME, its config.toml moving the model API to the server."""
    (home / "config.toml").write_text(f'openai_base_url = "{api.url}/v1"\n')
    return home


def log_in(home: Path, issuer: FakeIssuer) -> str:
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=2), issuer=issuer.url)
    token: str = stored(home)["tokens"]["access_token"]
    return token


def signed(token: str, account: str | None = "acc-123") -> dict[str, str]:
    headers = {"authorization": f"Bearer {token}"}
    if account is not None:
        headers["chatgpt-account-id"] = account
    return headers


def test_the_client_lists_models_at_the_logins_model_api_with_its_headers(
    home: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    token = log_in(home, issuer)
    with CodexAuth(codex_home=home, issuer=issuer.url, environ={}) as auth:
        client = codex_login.openai_client(auth, max_retries=0)
        with client:
            assert [model.id for model in client.models.list()] == ["gpt-test"]
    assert client.max_retries == 0  # the keyword went to the SDK
    assert [path for path, _ in api.seen] == ["/v1/models"]
    assert api.headers(*SIGNED) == [signed(token)]


def test_the_async_client_does_the_same(home: Path, issuer: FakeIssuer, api: RecordingApi) -> None:
    token = log_in(home, issuer)

    async def models() -> list[str]:
        auth = AsyncCodexAuth(codex_home=home, issuer=issuer.url, environ={})
        async with auth:
            client = await codex_login.aio.openai_client(auth, max_retries=0)
            async with client:
                return [model.id async for model in client.models.list()]

    assert asyncio.run(models()) == ["gpt-test"]
    assert api.headers(*SIGNED) == [signed(token)]


def test_each_helper_takes_either_twin(home: Path, issuer: FakeIssuer, api: RecordingApi) -> None:
    """The page says both take the login to use: the blocking helper given the async
    twin called its coroutine unawaited, the async one awaited a plain value."""
    token = log_in(home, issuer)

    async def models(auth: CodexAuth) -> list[str]:
        client = await codex_login.aio.openai_client(auth, max_retries=0)
        async with client:
            return [model.id async for model in client.models.list()]

    with CodexAuth(codex_home=home, issuer=issuer.url, environ={}) as auth:
        with codex_login.openai_client(auth.as_async(), max_retries=0) as client:
            assert [model.id for model in client.models.list()] == ["gpt-test"]
        assert asyncio.run(models(auth)) == ["gpt-test"]
    assert api.headers(*SIGNED) == [signed(token), signed(token)]


def test_a_refused_token_is_refreshed_once_and_the_call_succeeds(
    home: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    old = log_in(home, issuer)
    api.refuse(old)
    with (
        CodexAuth(codex_home=home, issuer=issuer.url, environ={}) as auth,
        codex_login.openai_client(auth, max_retries=0) as client,
    ):
        assert [model.id for model in client.models.list()] == ["gpt-test"]
    new = stored(home)["tokens"]["access_token"]
    assert len(issuer.posts("refresh_token")) == 1
    assert api.headers(*SIGNED) == [signed(old), signed(new)]


def test_without_arguments_it_uses_the_codex_home_login_and_no_invented_key(
    home: Path, api: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY}))
    (home / "auth.json").chmod(0o600)
    for name in ("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "CODEX_LOGIN_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CODEX_HOME", str(home))
    with codex_login.openai_client(max_retries=0) as client:
        assert str(client.base_url) == f"{api.url}/v1/"
        client.models.list()
    assert api.headers(*SIGNED) == [signed(KEY, account=None)]


def test_keyword_arguments_win_and_a_given_http_client_is_signed(
    home: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    token = log_in(home, issuer)
    api.answers["/elsewhere/models"] = MODELS
    with (
        CodexAuth(codex_home=home, issuer=issuer.url, environ={}) as auth,
        codex_login.openai_client(
            auth,
            base_url=f"{api.url}/elsewhere",
            http_client=httpx.Client(trust_env=False),
            max_retries=0,
        ) as client,
    ):
        client.models.list()
    assert [path for path, _ in api.seen] == ["/elsewhere/models"]
    assert api.headers(*SIGNED) == [signed(token)]


def test_the_login_may_be_named_by_keyword(
    home: Path,
    issuer: FakeIssuer,
    api: RecordingApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # auth= used to be positional-only, so the keyword fell through to the SDK's
    # constructor and the client signed with $CODEX_HOME's login instead.
    token = log_in(home, issuer)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "elsewhere"))
    with (
        CodexAuth(codex_home=home, issuer=issuer.url, environ={}) as auth,
        codex_login.openai_client(auth=auth, max_retries=0) as client,
    ):
        client.models.list()
    assert api.headers(*SIGNED) == [signed(token)]

    async def models() -> None:
        twin = AsyncCodexAuth(codex_home=home, issuer=issuer.url, environ={})
        async with twin, await codex_login.aio.openai_client(auth=twin, max_retries=0) as client:
            await client.models.list()

    asyncio.run(models())
    assert api.headers(*SIGNED) == [signed(token)] * 2
