"""The model API of the current login through the embedding API, and the HTTP integrations
sending every one of its headers (issue 23, items 2 and 3).

Real parts: auth.json in a private CODEX_HOME, the fake issuer for refreshes, a loopback
server recording every header, a broker on a Unix socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import requests

from codex_login.adapters.broker_client import BrokerClient
from codex_login.domain.model_api import ModelApi
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
from codex_login.entrypoints.requests_auth import CodexRequestsAuth
from support.broker import broker_in_thread
from support.cli import browser_login_in_process, run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored, write_login
from support.recording_api import RecordingApi, recording_api

CHATGPT = "https://chatgpt.com/backend-api/codex"
WAIT = 30.0
SIGNED = ("Authorization", "ChatGPT-Account-ID")


@pytest.fixture
def api() -> Iterator[RecordingApi]:
    with recording_api() as running:
        yield running


def log_in(home: Path, issuer: FakeIssuer, *, expires_in: timedelta = timedelta(hours=2)) -> str:
    """A ChatGPT login of account ``acc-123`` bound to the fake issuer; its access token."""
    write_login(home, issuer.new_refresh_token(), expires_in=expires_in, issuer=issuer.url)
    return access_token(home)


def access_token(home: Path) -> str:
    token: str = stored(home)["tokens"]["access_token"]
    return token


def signed_by(home: Path) -> dict[str, str]:
    """The headers the stored login must be sent with."""
    tokens = stored(home)["tokens"]
    return {
        "authorization": f"Bearer {tokens['access_token']}",
        "chatgpt-account-id": tokens["account_id"],
    }


def opened(home: Path, issuer: FakeIssuer) -> CodexAuth:
    return CodexAuth(codex_home=home, issuer=issuer.url, environ={})


# -- the three clients, one shape: a client signed by a login, kept open across calls -----

Get = Callable[[str], int]  # GET a URL, its status
Client = Callable[[CodexAuth], AbstractContextManager[Get]]


@contextmanager
def with_httpx(auth: CodexAuth) -> Iterator[Get]:
    with httpx.Client(auth=CodexHttpxAuth(auth), trust_env=False, timeout=WAIT) as client:
        yield lambda url: client.get(url).status_code


@contextmanager
def with_httpx_async(auth: CodexAuth) -> Iterator[Get]:
    """An ``httpx.AsyncClient`` signed by the async twin, on one event loop for the block."""
    signer = CodexHttpxAuth(AsyncCodexAuth(service=auth.service))
    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(auth=signer, trust_env=False, timeout=WAIT)
        try:
            yield lambda url: runner.run(client.get(url)).status_code
        finally:
            runner.run(client.aclose())


@contextmanager
def with_requests(auth: CodexAuth) -> Iterator[Get]:
    signer = CodexRequestsAuth(auth)
    with requests.Session() as session:
        session.trust_env = False
        yield lambda url: session.get(url, auth=signer, timeout=WAIT).status_code


@pytest.fixture(params=[with_httpx, with_httpx_async, with_requests], ids=lambda f: f.__name__)
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    return chosen


# -- the embedding API ---------------------------------------------------------------------


def test_both_twins_give_the_model_api_of_a_chatgpt_login(home: Path, issuer: FakeIssuer) -> None:
    token = log_in(home, issuer)
    expected = ModelApi(
        CHATGPT, {"Authorization": f"Bearer {token}", "ChatGPT-Account-ID": "acc-123"}
    )
    with opened(home, issuer) as auth:
        assert auth.model_api() == expected
        assert asyncio.run(auth.as_async().model_api()) == expected
    assert token not in repr(expected)


def test_openai_base_url_in_config_toml_moves_the_model_api(home: Path, issuer: FakeIssuer) -> None:
    log_in(home, issuer)
    (home / "config.toml").write_text('openai_base_url = "http://127.0.0.1:9/v1/"\n')
    with opened(home, issuer) as auth:
        assert auth.model_api().base_url == "http://127.0.0.1:9/v1"


def test_the_model_api_is_refreshed_first_when_due(home: Path, issuer: FakeIssuer) -> None:
    expired = log_in(home, issuer, expires_in=timedelta(minutes=-1))
    with opened(home, issuer) as auth:
        headers = auth.model_api().headers
    assert len(issuer.posts("refresh_token")) == 1
    assert headers["Authorization"] == f"Bearer {access_token(home)}" != f"Bearer {expired}"


def test_a_broker_backed_credential_gives_the_model_api_the_broker_said(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    token = log_in(home, issuer)
    (home / "config.toml").write_text('openai_base_url = "http://127.0.0.1:9/v1"\n')
    expected = ModelApi(
        "http://127.0.0.1:9/v1",
        {"Authorization": f"Bearer {token}", "ChatGPT-Account-ID": "acc-123"},
    )
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    sandbox = tmp_path / "sandbox"  # no login and no config.toml of its own
    sandbox.mkdir(mode=0o700)
    with broker_in_thread(service, tmp_path / "broker.sock") as served:
        with CodexAuth(broker=str(served.socket), environ={}) as auth:
            assert auth.model_api() == expected
        printed = run_in_process("token", "--json", "--broker", str(served.socket), home=sandbox)
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert (document["base_url"], document["headers"]) == (
        expected.base_url,
        dict(expected.headers),
    )


# -- the HTTP integrations send every header ------------------------------------------------


def test_every_header_of_the_model_api_is_sent(
    client: Client, home: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    log_in(home, issuer)
    with opened(home, issuer) as auth, client(auth) as get:
        assert get(f"{api.url}/v1/models") == 200
    assert api.headers(*SIGNED) == [signed_by(home)]


def test_a_refused_token_is_retried_once_with_the_renewed_headers(
    client: Client, home: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    old = log_in(home, issuer)
    api.refuse(old)
    with opened(home, issuer) as auth, client(auth) as get:
        assert get(f"{api.url}/v1/responses") == 200
    assert len(issuer.posts("refresh_token")) == 1
    renewed = signed_by(home)
    assert renewed["authorization"] != f"Bearer {old}"
    assert api.headers(*SIGNED) == [
        {"authorization": f"Bearer {old}", "chatgpt-account-id": "acc-123"},
        renewed,
    ]


def test_a_switch_to_another_account_changes_the_account_header(
    client: Client, tmp_path: Path, issuer: FakeIssuer, api: RecordingApi
) -> None:
    home = tmp_path / "codex"
    for claims in ({"email": "alice@example.com", "account_id": "ws-alice"},
                   {"email": "bob@example.com", "account_id": "ws-bob"}):  # fmt: skip
        issuer.claims = dict(claims)
        result = browser_login_in_process(issuer_env(home, issuer))
        assert result.returncode == 0, result.stderr
    with (
        CodexAuth(codex_home=home, environ=issuer_env(home, issuer)) as auth,
        client(auth) as get,  # one client across the switch
    ):
        assert get(f"{api.url}/v1/models") == 200
        auth.switch("alice")
        assert get(f"{api.url}/v1/models") == 200
    bob, alice = api.headers(*SIGNED)
    assert (bob["chatgpt-account-id"], alice["chatgpt-account-id"]) == ("ws-bob", "ws-alice")
    assert alice == signed_by(home)
    assert bob["authorization"] != alice["authorization"]


def test_a_broker_clients_older_token_keeps_the_model_api_said_with_it(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    """A token one thread keeps may be older than the one another just fetched."""
    log_in(home, issuer)
    (home / "config.toml").write_text('openai_base_url = "http://127.0.0.1:9/v1"\n')
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with broker_in_thread(service, tmp_path / "broker.sock") as served:
        client = BrokerClient(str(served.socket))
        first = client.fetch()
        second = client.fetch(stale=first.token)
    assert second.token != first.token
    for token in (first, second):
        api = client.model_api_of(token)
        assert api.base_url == "http://127.0.0.1:9/v1"
        assert api.headers["Authorization"] == f"Bearer {token.token}"
