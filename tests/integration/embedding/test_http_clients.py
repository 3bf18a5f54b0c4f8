"""httpx, requests and the openai SDK signed by a Codex login, against a real loopback API.

The API records the Authorization header of every request and answers 401 for
the tokens it is told to refuse; refreshes go to the fake issuer, which counts them.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
import pytest
import requests
from openai import AsyncOpenAI, OpenAI

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
from codex_login.entrypoints.requests_auth import CodexRequestsAuth
from support.fake_issuer import FakeIssuer
from support.logins import stored, write_login
from support.loopback_api import WAIT, LoopbackApi, serving

# -- the three clients, behind one shape ------------------------------------------------


@attrs.frozen
class Answer:
    status: int
    body: bytes
    refused_first: bool  # a 401 precedes it in the response's history


Fetch = Callable[[CodexAuth, str, int, bytes | None], list[Answer]]


def httpx_answer(response: httpx.Response) -> Answer:
    refused = [r.status_code for r in response.history] == [401]
    return Answer(response.status_code, response.content, refused)


def with_httpx(auth: CodexAuth, url: str, count: int, body: bytes | None) -> list[Answer]:
    """``count`` requests at once from threads sharing one ``httpx.Client``."""

    def send(client: httpx.Client) -> Answer:
        if body is None:
            return httpx_answer(client.get(url))
        return httpx_answer(client.post(url, content=iter([body])))  # a stream, read once

    with httpx.Client(auth=CodexHttpxAuth(auth), trust_env=False, timeout=WAIT) as client:
        return run_threads(lambda: send(client), count)


def with_httpx_async(auth: CodexAuth, url: str, count: int, body: bytes | None) -> list[Answer]:
    """``count`` requests gathered on one ``httpx.AsyncClient``, signed by the async twin."""

    async def stream() -> AsyncIterator[bytes]:
        assert body is not None
        yield body

    async def send(client: httpx.AsyncClient) -> Answer:
        if body is None:
            return httpx_answer(await client.get(url))
        return httpx_answer(await client.post(url, content=stream()))

    async def gather() -> list[Answer]:
        twin = AsyncCodexAuth(service=auth.service)
        signer = CodexHttpxAuth(twin)
        async with httpx.AsyncClient(auth=signer, trust_env=False, timeout=WAIT) as client:
            return list(await asyncio.gather(*(send(client) for _ in range(count))))

    return asyncio.run(gather())


def with_requests(auth: CodexAuth, url: str, count: int, body: bytes | None) -> list[Answer]:
    """``count`` requests at once from threads, one ``requests.Session`` each."""
    signer = CodexRequestsAuth(auth)

    def send() -> Answer:
        with requests.Session() as session:
            session.trust_env = False
            if body is None:
                response = session.get(url, auth=signer, timeout=WAIT)
            else:  # a file: the retry must rewind it
                response = session.post(url, data=io.BytesIO(body), auth=signer, timeout=WAIT)
            refused = [r.status_code for r in response.history] == [401]
            return Answer(response.status_code, response.content, refused)

    return run_threads(send, count)


def run_threads(send: Callable[[], Answer], count: int) -> list[Answer]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(params=[with_httpx, with_httpx_async, with_requests], ids=lambda f: f.__name__)
def fetch(request: pytest.FixtureRequest) -> Fetch:
    chosen: Fetch = request.param
    return chosen


@pytest.fixture
def api() -> Iterator[LoopbackApi]:
    with serving(LoopbackApi()) as running:
        yield running


@pytest.fixture
def auth(tmp_path: Path, issuer: FakeIssuer) -> Iterator[CodexAuth]:
    """A ChatGPT login bound to the fake issuer, valid for two hours.

    Two, not one: the issuer's new access tokens live one hour, so a token it
    issues within the same second is never identical to the stored one.
    """
    log_in(tmp_path, issuer, expires_in=timedelta(hours=2))
    with CodexAuth(store=FileCredentialStore(tmp_path), issuer=issuer.url, environ={}) as made:
        yield made


def log_in(home: Path, issuer: FakeIssuer, *, expires_in: timedelta) -> str:
    """Store a ChatGPT login whose ID token names the fake issuer; its access token."""
    write_login(home, issuer.new_refresh_token(), expires_in=expires_in, issuer=issuer.url)
    return access_token(home)


def access_token(home: Path) -> str:
    token: str = stored(home)["tokens"]["access_token"]
    return token


def fetch_one(fetch: Fetch, auth: CodexAuth, url: str, body: bytes | None = None) -> Answer:
    [answer] = fetch(auth, url, 1, body)
    return answer


# -- ChatGPT logins ---------------------------------------------------------------------


def test_the_header_carries_the_stored_access_token(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    answer = fetch_one(fetch, auth, f"{api.url}/v1/models")
    assert answer.status == 200
    assert api.seen == [f"Bearer {access_token(tmp_path)}"]
    assert issuer.posts("refresh_token") == []


def test_an_expired_token_is_refreshed_before_the_request(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    expired = log_in(tmp_path, issuer, expires_in=timedelta(minutes=-1))
    answer = fetch_one(fetch, auth, f"{api.url}/v1/models")
    assert (answer.status, answer.refused_first) == (200, False)
    assert len(issuer.posts("refresh_token")) == 1
    assert api.tokens_seen() == [access_token(tmp_path)]
    assert access_token(tmp_path) != expired


def test_a_refused_token_is_refreshed_once_and_the_request_retried(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)
    answer = fetch_one(fetch, auth, f"{api.url}/v1/models")
    assert (answer.status, answer.refused_first) == (200, True)
    assert len(issuer.posts("refresh_token")) == 1
    new = access_token(tmp_path)
    assert api.tokens_seen() == [old, new]
    assert new != old


def test_a_retried_request_sends_its_body_again(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, tmp_path: Path
) -> None:
    api.refuse(access_token(tmp_path))
    answer = fetch_one(fetch, auth, f"{api.url}/echo", b'{"prompt": "hello"}')
    assert (answer.status, answer.body) == (200, b'{"prompt": "hello"}')
    assert api.bodies == [b'{"prompt": "hello"}'] * 2


def test_a_server_refusing_every_token_sees_two_requests_and_the_caller_gets_the_401(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse_all = True
    answer = fetch_one(fetch, auth, f"{api.url}/v1/models")
    assert (answer.status, answer.refused_first) == (401, True)
    assert api.tokens_seen() == [old, access_token(tmp_path)]
    assert len(issuer.posts("refresh_token")) == 1


def test_sixteen_requests_refused_together_share_one_refresh(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)
    api.crowd = 16  # no 401 is sent before all sixteen requests have arrived
    answers = fetch(auth, f"{api.url}/v1/models", 16, None)
    assert [(a.status, a.refused_first) for a in answers] == [(200, True)] * 16
    assert len(issuer.posts("refresh_token")) == 1
    assert api.tokens_seen() == [old] * 16 + [access_token(tmp_path)] * 16


def test_a_token_refreshed_meanwhile_is_used_without_another_refresh(
    fetch: Fetch, auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)
    api.gate = threading.Event()  # the 401 waits until the token was refreshed elsewhere
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(fetch_one, fetch, auth, f"{api.url}/v1/models")
        assert api.refusing.wait(WAIT)
        new = auth.refresh().token
        api.gate.set()
        result = answer.result(WAIT)
    assert (result.status, result.refused_first) == (200, True)
    assert len(issuer.posts("refresh_token")) == 1  # ours; the refused request sent none
    assert api.tokens_seen() == [old, new]


def test_the_blocking_clients_accept_the_async_twin(
    auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    api.refuse(access_token(tmp_path))
    twin = AsyncCodexAuth(service=auth.service)
    signer = CodexHttpxAuth(twin)
    with httpx.Client(auth=signer, trust_env=False, timeout=WAIT) as client:
        assert client.get(f"{api.url}/v1/models").status_code == 200
    signer.close()
    signed = CodexRequestsAuth(twin)
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(f"{api.url}/v1/models", auth=signed, timeout=WAIT).status_code == 200
    signed.close()
    assert len(issuer.posts("refresh_token")) == 1  # one auth manager behind both


def test_requests_does_not_resend_a_generator_body_but_refreshes(
    auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)
    with requests.Session() as session:
        session.trust_env = False
        body = iter([b"spent ", b"once"])
        response = session.post(
            f"{api.url}/echo", data=body, auth=CodexRequestsAuth(auth), timeout=WAIT
        )
    assert response.status_code == 401  # a second send would carry an empty body
    assert api.tokens_seen() == [old]
    assert len(issuer.posts("refresh_token")) == 1  # the next request gets the new token
    assert access_token(tmp_path) != old


def test_requests_sends_no_token_after_a_redirect_to_another_host(
    auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(f"{api.url}/elsewhere", auth=CodexRequestsAuth(auth), timeout=WAIT)
    assert response.status_code == 401  # requests dropped the header: the host changed
    assert api.seen == [f"Bearer {access_token(tmp_path)}", ""]
    assert api.accounts == ["acc-123", ""]  # nor does the workspace go to another host
    assert issuer.posts("refresh_token") == []


# -- API-key logins ------------------------------------------------------------------


API_KEY = "sk-test-0123456789"


@pytest.fixture
def key_auth(tmp_path: Path) -> Iterator[CodexAuth]:
    with CodexAuth(store=FileCredentialStore(tmp_path), environ={}) as made:
        made.login_with_api_key(API_KEY)
        yield made


def test_an_api_key_is_sent_as_the_bearer_token(
    fetch: Fetch, key_auth: CodexAuth, api: LoopbackApi
) -> None:
    assert fetch_one(fetch, key_auth, f"{api.url}/v1/models").status == 200
    assert api.seen == [f"Bearer {API_KEY}"]


def test_a_refused_api_key_is_returned_without_a_retry(
    fetch: Fetch, key_auth: CodexAuth, api: LoopbackApi
) -> None:
    api.refuse(API_KEY)
    answer = fetch_one(fetch, key_auth, f"{api.url}/v1/models")
    assert (answer.status, answer.refused_first) == (401, False)
    assert api.seen == [f"Bearer {API_KEY}"]


# -- the openai SDK ----------------------------------------------------------------------


def openai_client(auth: CodexAuth, api: LoopbackApi) -> OpenAI:
    http_client = httpx.Client(auth=CodexHttpxAuth(auth), trust_env=False, timeout=WAIT)
    return OpenAI(
        base_url=f"{api.url}/v1",
        api_key="unused",  # the SDK wants one; our auth flow replaces its header
        http_client=http_client,  # type: ignore[arg-type]  # typed httpx2, takes httpx too
    )


def test_the_openai_sdk_sends_our_token_instead_of_its_api_key(
    auth: CodexAuth, api: LoopbackApi, tmp_path: Path
) -> None:
    with openai_client(auth, api) as client:
        assert [model.id for model in client.models.list()] == ["gpt-test"]
    assert api.seen == [f"Bearer {access_token(tmp_path)}"]


def test_the_openai_sdk_retries_once_after_a_refresh(
    auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)
    with openai_client(auth, api) as client:
        assert [model.id for model in client.models.list()] == ["gpt-test"]
    assert api.tokens_seen() == [old, access_token(tmp_path)]
    assert len(issuer.posts("refresh_token")) == 1


def test_the_async_openai_sdk_retries_once_after_a_refresh(
    auth: CodexAuth, api: LoopbackApi, issuer: FakeIssuer, tmp_path: Path
) -> None:
    old = access_token(tmp_path)
    api.refuse(old)

    async def models() -> list[str]:
        signer = CodexHttpxAuth(AsyncCodexAuth(service=auth.service))
        http_client = httpx.AsyncClient(auth=signer, trust_env=False, timeout=WAIT)
        async with AsyncOpenAI(
            base_url=f"{api.url}/v1",
            api_key="unused",
            http_client=http_client,  # type: ignore[arg-type]  # typed httpx2, takes httpx too
        ) as client:
            return [model.id async for model in client.models.list()]

    assert asyncio.run(models()) == ["gpt-test"]
    assert api.tokens_seen() == [old, access_token(tmp_path)]
    assert len(issuer.posts("refresh_token")) == 1
