"""The openai SDK through the proxy of a real ``codex-login serve --tcp``: ``base_url`` =
the proxy, ``api_key`` = the broker's secret (a file), and the testing kit's fake Codex
backend (linked to the fake issuer) as the upstream. Sync, async and streaming; the SDK
never holds the login's token, and the backend never sees the secret."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import openai
import pytest

from codex_login.stores import FileCredentialStore
from codex_login.testing.backend import FakeBackend
from codex_login.testing.issuer import FakeIssuer
from support.broker import ServedBroker, free_port, running_broker
from support.logins import issuer_env, stored


@attrs.frozen
class Sidecar:
    broker: ServedBroker
    backend: FakeBackend
    home: Path
    secret: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.broker.port}/openai/v1"

    def token(self) -> str:
        value: str = stored(self.home)["tokens"]["access_token"]
        return value


@pytest.fixture
def sidecar(
    tmp_path: Path, codex_fake_issuer: FakeIssuer, codex_fake_backend: FakeBackend
) -> Iterator[Sidecar]:
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    FileCredentialStore(home).save(codex_fake_issuer.login_record(age=timedelta(minutes=1)))
    secret = secrets.token_urlsafe(32)
    secret_file = tmp_path / "broker.secret"
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    args = ["--tcp", str(free_port()), "--secret-file", str(secret_file)]
    args += ["--upstream", codex_fake_backend.url]
    env = issuer_env(home, codex_fake_issuer)
    with running_broker(home, *args, env=env) as broker:
        yield Sidecar(broker, codex_fake_backend, home, secret)


def streamed_text(events: Any) -> str:
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


def assert_signed_by_the_login(sidecar: Sidecar) -> None:
    requests = sidecar.backend.requests_to("/responses")
    assert requests, "nothing reached the backend"
    for request in requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["authorization"] == f"Bearer {sidecar.token()}"
        assert sidecar.secret not in repr(request)


def test_the_sync_sdk_through_the_proxy(sidecar: Sidecar) -> None:
    with openai.OpenAI(base_url=sidecar.base_url, api_key=sidecar.secret, max_retries=0) as client:
        answer = client.responses.create(model="gpt-test", input="hi")
        assert answer.output_text == sidecar.backend.text
        events = client.responses.create(model="gpt-test", input="hi", stream=True)
        assert streamed_text(events) == sidecar.backend.text
    assert_signed_by_the_login(sidecar)


def test_the_async_sdk_streams_through_the_proxy(sidecar: Sidecar) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(
            base_url=sidecar.base_url, api_key=sidecar.secret, max_retries=0
        ) as client:
            answer = await client.responses.create(model="gpt-test", input="hi")
            events = await client.responses.create(model="gpt-test", input="hi", stream=True)
            text = "".join(
                [e.delta async for e in events if e.type == "response.output_text.delta"]
            )
            return answer.output_text, text

    assert asyncio.run(run()) == (sidecar.backend.text, sidecar.backend.text)
    assert_signed_by_the_login(sidecar)


def test_a_wrong_key_is_refused_and_nothing_reaches_the_backend(sidecar: Sidecar) -> None:
    with (
        openai.OpenAI(base_url=sidecar.base_url, api_key="not-the-secret", max_retries=0) as client,
        pytest.raises(openai.PermissionDeniedError),
    ):
        client.responses.create(model="gpt-test", input="hi")
    assert sidecar.backend.requests_to("/responses") == []
