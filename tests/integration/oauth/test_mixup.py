"""The OAuth mix-up through ``--issuer`` (issue 20, RFC 9700 §4.4), reproduced with two
fake issuers on loopback: an honest one, and an evil one the user was talked into
naming. Every issuer shares one redirect URI, so evil tries to get the honest
issuer's code (and the PKCE verifier) POSTed to its own token endpoint, or to show
the honest issuer's device page for a code it polls itself. Each test asserts that
nothing reached evil's token endpoint.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web

from codex_login import AsyncCodexAuth, CodexAuth
from codex_login.domain.device import DeviceCode
from codex_login.domain.errors import (
    ClientIdRequired,
    ForeignEndpoint,
    LoginError,
)
from codex_login.domain.issuer import DEFAULT_CLIENT_ID, DEFAULT_ISSUER
from codex_login.stores import MemoryCredentialStore
from codex_login.testing.issuer.app import IssuerRoutes, issuer_app
from codex_login.testing.issuer.state import IssuerState
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import write_login
from support.redirects import redirected

EVIL_CLIENT = "app_evil"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Relaying(FakeIssuer):
    """Evil with endpoints of its own that pass the user on to the honest issuer.

    Its sign-in page sends the browser to the honest issuer's, with OpenAI's client
    id (whose registered redirect URI every issuer shares), and its device endpoint
    asks the honest issuer for a code and hands over the honest answer, page included.
    """

    def __init__(self, honest: FakeIssuer) -> None:
        super().__init__()
        self.honest = honest

    def app(self) -> web.Application:
        return issuer_app(self, lambda state: RelayingRoutes(state, self.honest))


class RelayingRoutes(IssuerRoutes):
    def __init__(self, state: IssuerState, honest: FakeIssuer) -> None:
        super().__init__(state)
        self.honest = honest

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        query = {**request.query, "client_id": DEFAULT_CLIENT_ID}
        raise web.HTTPFound(f"{self.honest.url}/oauth/authorize?{urlencode(query)}")

    async def device_code(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        body = urlencode({"client_id": DEFAULT_CLIENT_ID, "scope": "openid"}).encode()
        answer = await asyncio.to_thread(_post, f"{self.honest.url}/oauth/device/code", body)
        return web.json_response(answer)


def _post(url: str, body: bytes) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def honest() -> Iterator[FakeIssuer]:
    """An issuer without RFC 9207 ``iss``: the case the mix-up needs."""
    with running_issuer(FakeIssuer()) as running:
        running.sends_iss = False
        yield running


@pytest.fixture
def evil() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer()) as running:
        yield running


@pytest.fixture
def relaying(honest: FakeIssuer) -> Iterator[Relaying]:
    relaying = Relaying(honest)
    with running_issuer(relaying):
        yield relaying


def assert_nothing_reached_the_token_endpoint(issuer: FakeIssuer) -> None:
    assert issuer.requests_to("/oauth/token") == []


# -- the browser login --------------------------------------------------------------------


def test_metadata_naming_the_honest_sign_in_page_is_refused_before_the_browser_opens(
    honest: FakeIssuer, evil: FakeIssuer
) -> None:
    evil.metadata = {"authorization_endpoint": f"{honest.url}/oauth/authorize"}
    store = MemoryCredentialStore()
    # The user was even told to pass OpenAI's client id.
    with (
        CodexAuth(store=store, issuer=evil.url, client_id=DEFAULT_CLIENT_ID, environ={}) as auth,
        pytest.raises(ForeignEndpoint, match="authorization endpoint") as refused,
    ):
        auth.login_in_browser(
            announce=honest.approve_in_background, open_browser=False, port=0, timeout=20
        )
    honest.join_browsers()
    assert f"{honest.url}/oauth/authorize" in str(refused.value)
    assert honest.requests_to("/oauth/authorize") == []  # no browser went there
    assert_nothing_reached_the_token_endpoint(evil)
    assert store.saved == []


def test_a_relayed_sign_in_without_iss_is_refused_before_the_code_is_exchanged(
    honest: FakeIssuer, relaying: Relaying
) -> None:
    store = MemoryCredentialStore()
    with (
        CodexAuth(store=store, issuer=relaying.url, client_id=EVIL_CLIENT, environ={}) as auth,
        pytest.raises(LoginError, match=r"no iss"),
    ):
        auth.login_in_browser(
            announce=relaying.approve_in_background, open_browser=False, port=0, timeout=20
        )
    relaying.join_browsers()
    assert len(honest.requests_to("/oauth/authorize")) == 1  # the user did sign in there
    assert_nothing_reached_the_token_endpoint(relaying)
    assert store.saved == []


def test_a_pasted_redirect_without_iss_is_refused_the_same_way(
    honest: FakeIssuer, relaying: Relaying
) -> None:
    store = MemoryCredentialStore()
    auth = AsyncCodexAuth(store=store, issuer=relaying.url, client_id=EVIL_CLIENT, environ={})

    async def scenario() -> None:
        urls: asyncio.Queue[str] = asyncio.Queue()
        pastes: asyncio.Queue[str] = asyncio.Queue()

        async def pasted() -> AsyncIterator[str]:
            while True:
                yield await pastes.get()

        login = asyncio.ensure_future(
            auth.login_in_browser(
                announce=lambda url, port: urls.put_nowait(url),
                open_browser=False,
                port=0,
                timeout=20,
                pasted=pasted(),
            )
        )
        # The browser on another machine: evil's page, then the honest issuer's, which
        # sends it to a localhost that is not ours; the user pastes that address.
        at_honest = await asyncio.to_thread(redirected, await urls.get())
        ended_on = await asyncio.to_thread(redirected, at_honest)
        assert "iss=" not in ended_on
        pastes.put_nowait(ended_on)
        with pytest.raises(LoginError, match=r"no iss"):
            await login

    asyncio.run(scenario())
    assert_nothing_reached_the_token_endpoint(relaying)
    assert store.saved == []


def test_a_login_at_another_issuer_without_its_own_client_id_sends_nothing(
    honest: FakeIssuer, evil: FakeIssuer
) -> None:
    store = MemoryCredentialStore()
    with (
        CodexAuth(store=store, issuer=evil.url, environ={}) as auth,
        pytest.raises(ClientIdRequired, match="needs that issuer's own client id"),
    ):
        auth.login_in_browser(announce=honest.approve_in_background, open_browser=False, port=0)
    with (
        CodexAuth(store=store, issuer=evil.url, environ={}) as auth,
        pytest.raises(ClientIdRequired, match="needs that issuer's own client id"),
    ):
        auth.login_with_device_code(show=lambda device: None)
    assert evil.requests == []
    assert honest.requests == []


def test_an_origin_the_user_trusts_may_hold_an_endpoint(honest: FakeIssuer) -> None:
    """A real issuer may keep an endpoint elsewhere (revocation on an API host, say)."""
    with running_issuer(FakeIssuer()) as issuer:
        issuer.metadata = {"revocation_endpoint": f"{honest.url}/oauth/revoke"}
        environ = {"CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS": honest.url}
        store = MemoryCredentialStore()
        with CodexAuth(store=store, issuer=issuer.url, client_id="app", environ=environ) as auth:
            auth.login_in_browser(
                announce=issuer.approve_in_background, open_browser=False, port=0, timeout=20
            )
        assert len(issuer.posts("authorization_code")) == 1
        with (
            CodexAuth(store=store, issuer=issuer.url, client_id="app", environ={}) as auth,
            pytest.raises(ForeignEndpoint, match="revocation endpoint"),
        ):
            auth.login_in_browser(announce=issuer.approve_in_background, open_browser=False)
        assert len(issuer.posts("authorization_code")) == 1


# -- the device login ------------------------------------------------------------------------


def test_a_device_login_showing_the_honest_issuers_page_is_refused(
    honest: FakeIssuer, relaying: Relaying
) -> None:
    shown: list[DeviceCode] = []
    store = MemoryCredentialStore()
    with (
        CodexAuth(store=store, issuer=relaying.url, client_id=EVIL_CLIENT, environ={}) as auth,
        pytest.raises(ForeignEndpoint, match="verification URI") as refused,
    ):
        auth.login_with_device_code(show=shown.append, timeout=10)
    assert f"{honest.url}/device" in str(refused.value)
    assert shown == []  # the user is never sent to the honest page for evil's code
    assert relaying.posts(DEVICE_CODE_GRANT) == []
    assert_nothing_reached_the_token_endpoint(relaying)
    assert store.saved == []


def test_metadata_naming_the_honest_device_endpoint_is_refused(
    honest: FakeIssuer, evil: FakeIssuer
) -> None:
    evil.metadata = {"device_authorization_endpoint": f"{honest.url}/oauth/device/code"}
    with (
        CodexAuth(issuer=evil.url, client_id=EVIL_CLIENT, environ={}) as auth,
        pytest.raises(ForeignEndpoint, match="device authorization endpoint"),
    ):
        auth.login_with_device_code(show=lambda device: None, timeout=10)
    assert honest.requests_to("/oauth/device/code") == []
    assert_nothing_reached_the_token_endpoint(evil)


# -- the command line ------------------------------------------------------------------------


def test_the_cli_refuses_the_mixed_up_metadata_in_one_line(
    tmp_path: Path, honest: FakeIssuer, evil: FakeIssuer
) -> None:
    evil.metadata = {"token_endpoint": f"{honest.url}/oauth/token"}
    args = ["login", "--no-browser", "--port", "0", "--issuer", evil.url, "--client-id", "x"]
    result = run_cli(*args, env=clean_env(tmp_path), timeout=30)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: the issuer {evil.url} names its token endpoint ")
    assert "CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS" in line
    assert honest.requests == []
    assert not (tmp_path / "auth.json").exists()


@pytest.mark.parametrize("flow", [["--no-browser", "--port", "0"], ["--device-auth"]])
def test_the_cli_asks_for_a_client_id_at_another_issuer(
    tmp_path: Path, evil: FakeIssuer, flow: list[str]
) -> None:
    result = run_cli("login", *flow, "--issuer", evil.url, env=clean_env(tmp_path), timeout=30)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line == (
        f"Error: a login at {evil.url} needs that issuer's own client id; OpenAI's is "
        "used only for https://auth.openai.com; pass --client-id (or set "
        "CODEX_LOGIN_CLIENT_ID)"
    )
    assert evil.requests == []
    assert not (tmp_path / "auth.json").exists()


# -- URL overrides (issue 20, item 5) ------------------------------------------------------------


def login_files(home: Path, honest: FakeIssuer, issuer: str) -> dict[Path, bytes]:
    """An active login and one in the slot ``work``, both due for a refresh, from ``issuer``."""
    slot = home / "accounts" / "work"
    slot.parent.mkdir(parents=True, mode=0o700)
    for where in (home, slot):
        write_login(
            where, honest.new_refresh_token(), expires_in=timedelta(minutes=-1), issuer=issuer
        )
    return {path: path.read_bytes() for path in (home / "auth.json", slot / "auth.json")}


@pytest.mark.parametrize(
    "case",
    [
        (["token"], "CODEX_REFRESH_TOKEN_URL_OVERRIDE"),
        (["token", "--account", "work"], "CODEX_REFRESH_TOKEN_URL_OVERRIDE"),
        (["logout"], "CODEX_REVOKE_TOKEN_URL_OVERRIDE"),
        (["logout", "--account", "work"], "CODEX_REVOKE_TOKEN_URL_OVERRIDE"),
    ],
)
@pytest.mark.parametrize("stored_issuer", ["honest", DEFAULT_ISSUER])
def test_an_override_off_the_login_issuers_origin_sends_nothing_and_keeps_the_file(
    tmp_path: Path,
    honest: FakeIssuer,
    evil: FakeIssuer,
    case: tuple[list[str], str],
    stored_issuer: str,
) -> None:
    command, variable = case
    issuer = honest.url if stored_issuer == "honest" else stored_issuer
    before = login_files(tmp_path, honest, issuer)
    destination = f"{evil.url}/oauth/{'token' if 'REFRESH' in variable else 'revoke'}"
    result = run_in_process(*command, env=clean_env(tmp_path, **{variable: destination}))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line == (
        f"Error: {variable} sends the login's token to {destination}, which is not on the "
        f"origin of {issuer}, the issuer of this login; nothing was sent: unset {variable}, "
        f"or point it at {issuer}"
    )
    assert evil.requests == []
    assert honest.requests == []
    assert {path: path.read_bytes() for path in before} == before


def test_an_override_on_the_login_issuers_origin_is_used_for_a_slot_too(
    tmp_path: Path, honest: FakeIssuer
) -> None:
    """The Codex CLI's own use: the override moves an endpoint within the issuer."""
    login_files(tmp_path, honest, honest.url)
    env = clean_env(tmp_path, CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{honest.url}/oauth/token")
    result = run_in_process("token", "--account", "work", env=env)
    assert result.returncode == 0, result.stderr
    assert len(honest.posts("refresh_token")) == 1
    assert honest.requests_to("/.well-known/openid-configuration") == []  # the override's URL
