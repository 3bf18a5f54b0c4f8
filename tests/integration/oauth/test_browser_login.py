"""The browser login end to end: real sockets on 127.0.0.1, a fake issuer, real files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import stat
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint
from codex_login.adapters.port_claims import PortClaims
from codex_login.application.service import AuthService
from codex_login.application.signin import LoginOutcome
from codex_login.domain.errors import (
    AuthorizationDenied,
    CallbackPortUnavailable,
    CodexLoginError,
    LoginCancelled,
    LoginError,
    LoginTimedOut,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.issuer import DEFAULT_CLIENT_ID, IssuerConfig
from codex_login.domain.modes import AuthMode
from codex_login.domain.resolution import resolve
from codex_login.domain.tokens import TokenGrant
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.callback_server import CallbackServer
from codex_login.entrypoints.settings import Settings
from support.fake_issuer import Failure, FakeIssuer
from support.other_users import AS_NOBODY, NOBODY_UID, need_root_and_setpriv, open_to_others
from support.waiting import wait_until

T = TypeVar("T")


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    """A private per-user runtime directory, where a login's claim on its port goes."""
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    return path


def service_for(
    home: Path, issuer: FakeIssuer, *, timeout: float = 10, runtime: Path | None = None
) -> AuthService:
    endpoint = HttpTokenEndpoint(timeout=timeout)
    environ = {"XDG_RUNTIME_DIR": str(runtime)} if runtime else {}
    return bootstrap(
        store=FileCredentialStore(home),
        endpoint=endpoint,
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,
        environ=environ,
    )


def cancel_path(runtime: Path, port: int) -> str:
    """/cancel with the secret that the login on ``port`` told its own user."""
    secret = PortClaims(runtime).secret_for(port)
    assert secret is not None, f"no claim on port {port} in {runtime}"
    return f"/cancel?{urlencode({'secret': secret})}"


class Login:
    """A login running in the background, and a browser to poke its callback server."""

    def __init__(self, task: asyncio.Task[LoginOutcome], url: str, port: int) -> None:
        self.task, self.url, self.port = task, url, port
        self.query = dict(parse_qsl(urlsplit(url).query))
        self.state = self.query["state"]

    async def get(
        self, path: str, *, host: str | None = None, method: str = "GET", follow: bool = False
    ) -> tuple[int, str, dict[str, str], str]:
        headers = {"Host": host} if host else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                f"http://127.0.0.1:{self.port}{path}",
                headers=headers,
                allow_redirects=follow,
            ) as response,
        ):
            return response.status, await response.text(), dict(response.headers), str(response.url)

    async def callback(self, **params: str) -> tuple[int, str, dict[str, str], str]:
        return await self.get(f"/auth/callback?{urlencode(params)}")

    async def approve(self) -> tuple[int, str, str]:
        """What the user's browser does: authorize at the issuer, follow back to us."""
        async with aiohttp.ClientSession() as session, session.get(self.url) as response:
            return response.status, await response.text(), str(response.url)

    async def outcome(self) -> LoginOutcome:
        return await asyncio.wait_for(self.task, 30)


@asynccontextmanager
async def browser_login(
    service: AuthService,
    *,
    server: CallbackServer | None = None,
    port: int | None = 0,
    timeout: float = 30,
) -> AsyncIterator[Login]:
    announced: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    task = asyncio.create_task(
        service.login_in_browser(
            announce=lambda url, bound: announced.put_nowait((url, bound)),
            port=port,
            timeout=timeout,
            listener=server,
        )
    )
    getter = asyncio.ensure_future(announced.get())
    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    if not getter.done():
        getter.cancel()
        await task  # raises the reason the login could not start
    url, bound = getter.result()
    try:
        yield Login(task, url, bound)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def stored(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    return document


# -- success -------------------------------------------------------------------------


def test_a_login_stores_the_credentials_and_shows_the_success_page(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "missing-home"

    async def scenario() -> tuple[LoginOutcome, tuple[int, str, str]]:
        async with browser_login(service_for(home, issuer)) as login:
            page = await login.approve()
            return await login.outcome(), page

    outcome, (status, page, final_url) = run(scenario)
    assert status == 200
    assert "Signed in to Codex" in page
    assert urlsplit(final_url).path == "/success"
    success_query = parse_qs(urlsplit(final_url).query)
    assert success_query["needs_setup"] == ["false"]
    assert "id_token" not in success_query
    assert success_query["plan_type"] == ["pro"]
    assert success_query["platform_url"] == ["https://platform.api.openai.org"]
    document = stored(home)
    assert list(document) == ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]
    assert document["auth_mode"] == "chatgpt"
    assert document["OPENAI_API_KEY"] == "sk-proj-exchanged-0123456789"
    assert document["tokens"]["account_id"] == "acc-123"
    assert document["tokens"]["refresh_token"].startswith("rt-")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "auth.json").stat().st_mode) == 0o600
    assert outcome.id_token.email == "user@example.com"
    assert outcome.api_key_stored
    assert len(issuer.posts("authorization_code")) == 1


def test_the_authorize_url_and_the_code_exchange_follow_the_protocol(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    async def scenario() -> str:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            await login.approve()
            await login.outcome()
            return login.url

    url = run(scenario)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{issuer.url}/oauth/authorize"
    params = parse_qsl(parts.query)
    assert [name for name, _ in params] == [
        "response_type", "client_id", "redirect_uri", "scope", "code_challenge",
        "code_challenge_method", "id_token_add_organizations", "codex_cli_simplified_flow",
        "state",
    ]  # fmt: skip
    query = dict(params)
    assert query["response_type"] == "code"
    assert query["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
    assert query["scope"] == "openid profile email offline_access"
    assert query["redirect_uri"].startswith("http://localhost:")
    assert query["redirect_uri"].endswith("/auth/callback")
    assert query["code_challenge_method"] == "S256"
    assert len(base64.urlsafe_b64decode(query["state"] + "=")) == 32
    exchange = issuer.posts("authorization_code")[0]
    assert exchange.content_type == "application/x-www-form-urlencoded"
    verifier = exchange.form["code_verifier"]
    assert len(base64.urlsafe_b64decode(verifier + "==")) == 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == challenge.decode()
    assert exchange.form["redirect_uri"] == query["redirect_uri"]
    assert exchange.form["client_id"] == query["client_id"]
    api_key = issuer.posts("urn:ietf:params:oauth:grant-type:token-exchange")[0].form
    assert api_key["requested_token"] == "openai-api-key"
    assert api_key["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token"


def test_an_enterprise_login_writes_the_apikey_mode(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.plan = "enterprise"

    async def scenario() -> None:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            await login.approve()
            await login.outcome()

    run(scenario)
    assert stored(tmp_path)["auth_mode"] == "apikey"


def test_org_owners_who_need_setup_are_sent_to_the_platform(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    issuer.claims = {
        "is_org_owner": True,
        "completed_platform_onboarding": False,
        "organization_id": "org-<1>",
        "project_id": "proj-1",
    }

    async def scenario() -> tuple[str, str]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            _, page, final_url = await login.approve()
            await login.outcome()
            return page, final_url

    page, final_url = run(scenario)
    success_query = parse_qs(urlsplit(final_url).query)
    assert success_query["needs_setup"] == ["true"]
    assert success_query["id_token"] == [stored(tmp_path)["tokens"]["id_token"]]
    assert success_query["org_id"] == ["org-<1>"]
    assert 'http-equiv="refresh"' in page
    assert "https://platform.api.openai.org/org-setup?p=pro&amp;t=" in page
    assert "org-<1>" not in page


def test_a_new_login_replaces_credentials_and_keeps_unknown_fields(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    (tmp_path / "auth.json").write_text(
        json.dumps({"OPENAI_API_KEY": "sk-old", "installation_id": "abc", "tokens": None})
    )

    async def scenario() -> LoginOutcome:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            await login.approve()
            return await login.outcome()

    run(scenario)
    document = stored(tmp_path)
    assert document["installation_id"] == "abc"
    assert document["OPENAI_API_KEY"] == "sk-proj-exchanged-0123456789"


def test_an_enterprise_login_without_a_key_stays_usable(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.plan = "enterprise"
    issuer.api_key_failure = Failure(403, '{"error": "access_denied"}')

    async def scenario() -> None:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            await login.approve()
            await login.outcome()

    run(scenario)
    assert stored(tmp_path)["auth_mode"] == "chatgpt"
    status = FileCredentialStore(tmp_path).load()
    assert status is not None
    assert resolve(status.record, AuthMode.CHATGPT) is not None


def test_a_failed_api_key_exchange_does_not_fail_the_login(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    issuer.api_key_failure = Failure(400, '{"error": "invalid_grant"}')

    async def scenario() -> LoginOutcome:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            await login.approve()
            return await login.outcome()

    outcome = run(scenario)
    assert not outcome.api_key_stored
    assert stored(tmp_path)["OPENAI_API_KEY"] is None
    assert stored(tmp_path)["auth_mode"] == "chatgpt"


# -- callbacks that must not end the login ---------------------------------------------


def test_stray_and_malformed_requests_never_end_a_login_that_can_succeed(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    async def scenario() -> list[tuple[str, int]]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            port = login.port
            seen = [
                ("wrong state", (await login.callback(code="c", state="wrong"))[0]),
                ("no state", (await login.callback(code="c"))[0]),
                ("stray error", (await login.callback(error="access_denied", state="x"))[0]),
                ("no code", (await login.callback(state=login.state))[0]),
                (
                    "repeated state",
                    (await login.get(f"/auth/callback?code=c&state={login.state}&state=x"))[0],
                ),
                (
                    "repeated code",
                    (await login.get(f"/auth/callback?code=a&code=b&state={login.state}"))[0],
                ),
                ("overlong query", (await login.get("/auth/callback?code=" + "x" * 20_000))[0]),
                ("success too early", (await login.get("/success"))[0]),
                ("wrong method", (await login.get("/auth/callback", method="POST"))[0]),
                ("unknown path", (await login.get("/admin"))[0]),
                ("rebinding host", (await login.get("/cancel", host=f"evil.example:{port}"))[0]),
                ("other port in host", (await login.get("/cancel", host="localhost:1"))[0]),
            ]
            assert not login.task.done()
            status, page, _ = await login.approve()
            assert (status, "Signed in to Codex" in page) == (200, True)
            await login.outcome()
            return seen

    seen = run(scenario)
    assert dict(seen) == {
        "wrong state": 400,
        "no state": 400,
        "stray error": 400,
        "no code": 400,
        "repeated state": 400,
        "repeated code": 400,
        "overlong query": 400,
        "success too early": 404,
        "wrong method": 405,
        "unknown path": 404,
        "rebinding host": 403,
        "other port in host": 403,
    }
    assert len(issuer.posts("authorization_code")) == 1


def test_every_loopback_host_name_is_accepted(tmp_path: Path, issuer: FakeIssuer) -> None:
    async def scenario() -> list[int]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            hosts = (f"localhost:{login.port}", f"127.0.0.1:{login.port}", f"[::1]:{login.port}")
            return [(await login.get("/nowhere", host=host))[0] for host in hosts]

    assert run(scenario) == [404, 404, 404]


def test_two_callbacks_at_once_make_one_exchange(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.exchange_delay = 0.3

    async def scenario() -> list[int]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            async with aiohttp.ClientSession() as session:
                authorize = await session.get(login.url, allow_redirects=False)
                callback = authorize.headers["Location"]
                authorize.release()
            path = callback.split(f":{login.port}", 1)[1]
            answers = await asyncio.gather(login.get(path), login.get(path), login.get(path))
            success, *_ = await login.get(answers[0][2]["Location"])
            await login.outcome()
            return [status for status, *_ in answers] + [success]

    assert run(scenario) == [302, 302, 302, 200]
    assert len(issuer.posts("authorization_code")) == 1


# -- callbacks that end the login ----------------------------------------------------------


def test_the_issuers_error_ends_the_login_with_an_escaped_page(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    async def scenario() -> tuple[int, str]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            status, page, *_ = await login.callback(
                state=login.state,
                error="access_denied",
                error_description="<script>alert('x')</script>",
                iss=issuer.url,
            )
            with pytest.raises(AuthorizationDenied, match="access_denied"):
                await login.outcome()
            return status, page

    status, page = run(scenario)
    assert status == 400
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not (tmp_path / "auth.json").exists()


def test_a_response_from_another_issuer_is_refused(tmp_path: Path, issuer: FakeIssuer) -> None:
    async def scenario() -> int:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            status, *_ = await login.callback(
                state=login.state, code="c", iss="https://evil.example"
            )
            with pytest.raises(LoginError, match=r"evil\.example"):
                await login.outcome()
            return status

    assert run(scenario) == 400
    assert issuer.posts("authorization_code") == []


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (
            Failure(400, '{"error":"invalid_grant","error_description":"bad code"}'),
            TokenEndpointError,
            "invalid_grant: bad code",
        ),
        (Failure(500, '{"error":"server_error"}'), TransientTokenError, "HTTP 500"),
        (
            Failure(502, "<html>Bad gateway</html>", "text/html"),
            TransientTokenError,
            "an HTML page",
        ),
        (Failure(200, "{not json"), TransientTokenError, "a body that is not a JSON object"),
        (Failure(200, '{"access_token": "a"}'), TokenEndpointError, "lacks id_token, refresh_"),
        (
            Failure(200, '{"id_token": "x", "access_token": "a", "refresh_token": "r"}'),
            TokenEndpointError,
            "id_token is not a JWT",
        ),
        (Failure(200, "{}", delay=3), TransientTokenError, r"did not answer within 0\.5 s"),
    ],
)
def test_a_failed_code_exchange_ends_the_login_and_writes_nothing(
    tmp_path: Path, issuer: FakeIssuer, failure: Failure, error: type[Exception], message: str
) -> None:
    issuer.code_failure = failure

    async def scenario() -> tuple[int, str]:
        async with browser_login(service_for(tmp_path, issuer, timeout=0.5)) as login:
            status, page, _ = await login.approve()
            with pytest.raises(error, match=message):
                await login.outcome()
            return status, page

    status, page = run(scenario)
    assert status == 502
    assert "Sign-in failed" in page
    assert not (tmp_path / "auth.json").exists()


def test_cancel_ends_the_login(tmp_path: Path, issuer: FakeIssuer, runtime: Path) -> None:
    async def scenario() -> int:
        async with browser_login(service_for(tmp_path, issuer, runtime=runtime)) as login:
            status, *_ = await login.get(cancel_path(runtime, login.port))
            with pytest.raises(LoginCancelled):
                await login.outcome()
            return status

    assert run(scenario) == 200
    assert not (tmp_path / "auth.json").exists()


def test_no_callback_in_time_is_a_timeout(tmp_path: Path, issuer: FakeIssuer) -> None:
    async def scenario() -> None:
        async with browser_login(service_for(tmp_path, issuer), timeout=0.2) as login:
            with pytest.raises(LoginTimedOut, match=r"0\.2 s"):
                await login.outcome()

    run(scenario)


# -- the port ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_stale_login_on_the_port_is_cancelled_and_the_port_reused(
    tmp_path: Path, issuer: FakeIssuer, runtime: Path
) -> None:
    port = free_port()

    async def scenario() -> None:
        async with (
            browser_login(service_for(tmp_path / "a", issuer, runtime=runtime), port=port) as stale,
            browser_login(service_for(tmp_path / "b", issuer, runtime=runtime), port=port) as fresh,
        ):
            assert fresh.port == port
            with pytest.raises(LoginCancelled):
                await stale.outcome()
            await fresh.approve()
            await fresh.outcome()

    run(scenario)
    assert (tmp_path / "b" / "auth.json").exists()
    assert not (tmp_path / "a" / "auth.json").exists()


@asynccontextmanager
async def foreign_server(port: int) -> AsyncIterator[None]:
    """Another program on the port: it does not know /cancel and never lets go."""
    runner = web.AppRunner(web.Application(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


def test_a_foreign_server_on_the_first_port_means_the_fallback_port(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    first, fallback = free_port(), free_port()
    service = service_for(tmp_path, issuer)

    async def scenario() -> int:
        server = CallbackServer(ports=(first, fallback), takeover_grace=0.3)
        async with foreign_server(first), browser_login(service, server=server, port=None) as login:
            await login.approve()
            await login.outcome()
            return login.port

    assert run(scenario) == fallback


def test_no_free_port_is_a_clear_error(tmp_path: Path, issuer: FakeIssuer) -> None:
    first, second = free_port(), free_port()
    service = service_for(tmp_path, issuer)

    async def scenario() -> None:
        server = CallbackServer(ports=(first, second), takeover_grace=0.2)
        async with foreign_server(first), foreign_server(second):
            with pytest.raises(CallbackPortUnavailable, match=f"port {first} and {second}"):
                async with browser_login(service, server=server, port=None):
                    pass

    run(scenario)


def test_errors_never_show_secrets(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.code_failure = Failure(400, '{"error":"invalid_grant"}')

    async def scenario() -> tuple[str, str]:
        async with browser_login(service_for(tmp_path, issuer)) as login:
            _, page, _ = await login.approve()
            with pytest.raises(CodexLoginError) as caught:
                await login.outcome()
            return page + str(caught.value), login.state

    text, state = run(scenario)
    assert state not in text
    assert "code-" not in text


def test_a_browser_that_never_shows_the_success_page_still_completes(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    service = service_for(tmp_path, issuer)

    async def scenario() -> LoginOutcome:
        server = CallbackServer(success_grace=0.2)
        async with (
            browser_login(service, server=server) as login,
            aiohttp.ClientSession() as session,
        ):
            async with session.get(login.url, allow_redirects=False) as authorize:
                callback = authorize.headers["Location"]
            path = callback.split(f":{login.port}", 1)[1]
            status, *_ = await login.get(path)
            assert status == 302
            return await login.outcome()

    assert run(scenario).id_token.email == "user@example.com"
    assert (tmp_path / "auth.json").exists()


def test_web_pages_and_late_requests_cannot_cancel_a_login(
    tmp_path: Path, issuer: FakeIssuer, runtime: Path
) -> None:
    issuer.exchange_delay = 0.5

    async def scenario() -> list[int]:
        async with browser_login(service_for(tmp_path, issuer, runtime=runtime)) as login:
            cancel = cancel_path(runtime, login.port)  # even with the secret
            statuses = []
            for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{login.port}{cancel}", headers=headers) as page,
                ):
                    statuses.append(page.status)
            for path in (cancel, "/auth/callback"):
                statuses.append((await login.get(path, method="HEAD"))[0])
            approving = asyncio.create_task(login.approve())
            await asyncio.to_thread(
                wait_until, lambda: issuer.posts("authorization_code"), 30, "the code exchange"
            )
            statuses.append((await login.get(cancel))[0])  # mid-exchange: too late
            await approving
            await login.outcome()
            return statuses

    assert run(scenario) == [403, 403, 405, 405, 409]
    assert stored(tmp_path)["auth_mode"] == "chatgpt"


class ExplodingEndpoint(HttpTokenEndpoint):
    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        raise RuntimeError("a bug")


def test_an_unexpected_failure_ends_the_login_instead_of_leaving_it_waiting(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    endpoint = ExplodingEndpoint()
    service = bootstrap(
        store=FileCredentialStore(tmp_path),
        endpoint=endpoint,
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,
        environ={},
    )

    async def scenario() -> int:
        async with browser_login(service) as login:
            status, _, _ = await login.approve()
            with pytest.raises(LoginError, match="failed unexpectedly"):
                await login.outcome()
            return status

    assert run(scenario) == 500
    assert not (tmp_path / "auth.json").exists()


# -- other local users (issue 20) ---------------------------------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"

# Run as nobody: try to read the login's claim, then to cancel the login without it.
NOBODY_CANCEL = r"""
import http.client, sys
port, claim = int(sys.argv[1]), sys.argv[2]
try:
    open(claim).read()
    print("read")
except PermissionError:
    print("denied")
for path in ("/cancel", "/cancel?secret=guess"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": "localhost:%d" % port})
    print(connection.getresponse().status)
"""


def as_nobody(script: str, *args: str) -> list[str]:
    """What ``script`` printed, run by the system Python as the user nobody."""
    need_root_and_setpriv()
    result = subprocess.run(
        [*AS_NOBODY, SYSTEM_PYTHON, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A TMPDIR that other users can pass through (0711), as /tmp is to them."""
    with open_to_others("codex-callback-") as path:
        yield path


def test_another_user_cannot_cancel_a_login_which_then_completes(
    tmp_path: Path, issuer: FakeIssuer, shared_tmp: Path
) -> None:
    service = bootstrap(
        store=FileCredentialStore(tmp_path),
        endpoint=HttpTokenEndpoint(),
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,
        environ={"TMPDIR": str(shared_tmp)},  # no XDG_RUNTIME_DIR: $TMPDIR/codex-login-UID
    )
    claims = shared_tmp / f"codex-login-{os.geteuid()}"

    async def scenario() -> tuple[list[str], int, Path]:
        async with browser_login(service) as login:
            claim = claims / f"login-callback-{login.port}.json"
            assert stat.S_IMODE(claims.stat().st_mode) == 0o700
            assert stat.S_IMODE(claim.stat().st_mode) == 0o600
            seen = await asyncio.to_thread(as_nobody, NOBODY_CANCEL, str(login.port), str(claim))
            assert not login.task.done()
            status, page, _ = await login.approve()
            assert "Signed in to Codex" in page
            await login.outcome()
            return seen, status, claim

    seen, status, claim = run(scenario)
    assert seen == ["denied", "403", "403"]
    assert status == 200
    assert stored(tmp_path)["auth_mode"] == "chatgpt"
    assert not claim.exists()  # the claim goes with the login


def test_a_claim_that_is_not_private_is_not_trusted(tmp_path: Path) -> None:
    claims = PortClaims(tmp_path)
    path = tmp_path / "login-callback-1455.json"
    path.write_text(json.dumps({"port": 1455, "pid": 1, "secret": "s3cret"}))
    path.chmod(0o600)
    assert claims.secret_for(1455) == "s3cret"
    path.chmod(0o644)  # not written by a login of ours: someone may have planted it
    assert claims.secret_for(1455) is None


def test_a_runtime_directory_of_another_user_is_not_used(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    foreign = tmp_path / "run"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, NOBODY_UID, -1)  # as under `sudo`, which keeps the caller's XDG_RUNTIME_DIR
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    claims = Settings.from_environ({"XDG_RUNTIME_DIR": str(foreign), "TMPDIR": str(tmpdir)})
    in_runtime = PortClaims.for_user(claims.xdg_runtime_dir, claims.tmpdir)
    assert in_runtime.directory == tmpdir / f"codex-login-{os.geteuid()}"
    (tmpdir / f"codex-login-{os.geteuid()}").chmod(0o755)  # a directory others can read
    assert PortClaims.for_user(claims.xdg_runtime_dir, claims.tmpdir).directory is None


def test_a_program_that_obeys_any_cancel_is_still_asked_to_let_go(
    tmp_path: Path, issuer: FakeIssuer, runtime: Path
) -> None:
    """A Codex CLI login on the port ends on a plain /cancel; ours asks it so."""
    port = free_port()
    asked: list[str] = []

    async def scenario() -> None:
        released = asyncio.Event()

        async def cancel(request: web.Request) -> web.Response:
            asked.append(request.path_qs)
            released.set()
            return web.Response(text="Login cancelled")

        app = web.Application()
        app.router.add_get("/cancel", cancel)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        letting_go = asyncio.create_task(released.wait())
        letting_go.add_done_callback(lambda _: asyncio.ensure_future(runner.cleanup()))
        async with browser_login(service_for(tmp_path, issuer, runtime=runtime), port=port) as ok:
            assert ok.port == port
            await ok.approve()
            await ok.outcome()

    run(scenario)
    assert asked == ["/cancel"]  # no claim of ours on that port: nothing secret to send


class LingeringServer(CallbackServer):
    """Still answering after the login ended, as in the moment before it closes."""

    async def close(self) -> None:
        pass

    async def really_close(self) -> None:
        await super().close()


def test_another_client_racing_for_the_success_page_gets_404_and_the_browser_gets_it_once(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    issuer.claims = {
        "is_org_owner": True,
        "completed_platform_onboarding": False,
        "organization_id": "org-1",
    }

    service = service_for(tmp_path, issuer)

    async def scenario() -> tuple[list[tuple[int, str]], tuple[int, str], tuple[int, str]]:
        server = LingeringServer()  # still there for the reload
        async with browser_login(service, server=server) as login:
            raced: list[tuple[int, str]] = []
            stop = asyncio.Event()

            async def racer() -> None:  # another local user polling /success
                base = f"http://127.0.0.1:{login.port}"
                host = {"Host": f"localhost:{login.port}"}
                async with aiohttp.ClientSession() as session:
                    while not stop.is_set():
                        for path in ("/success", "/success?nonce=guess", "/success?nonce="):
                            async with session.get(base + path, headers=host) as answer:
                                raced.append((answer.status, await answer.text()))

            racing = asyncio.create_task(racer())
            async with (
                aiohttp.ClientSession() as session,
                session.get(login.url, allow_redirects=False) as authorize,
            ):
                callback = authorize.headers["Location"]
            status, _, headers, _ = await login.get(callback.split(f":{login.port}", 1)[1])
            assert status == 302  # the credentials are committed from here on
            after_commit = len(raced)
            await asyncio.to_thread(
                wait_until, lambda: len(raced) >= after_commit + 6, 10, "the racer to try again"
            )
            stop.set()
            await racing
            first = await login.get(headers["Location"])  # the browser follows the redirect
            await login.outcome()
            again = await login.get(headers["Location"])  # and reloads
            await server.really_close()
            return raced, first[:2], again[:2]

    raced, first, again = run(scenario)
    id_token = stored(tmp_path)["tokens"]["id_token"]
    assert {status for status, _ in raced} == {404}
    assert not any(id_token in page for _, page in raced)
    assert first[0] == 200
    assert id_token in first[1]  # the org-setup redirect needs it
    assert again[0] == 200
    assert "already finished" in again[1]
    assert id_token not in again[1]


def test_a_login_answers_on_ipv6_loopback_too(tmp_path: Path, issuer: FakeIssuer) -> None:
    """A browser may send localhost to ::1: the callback must reach this login there."""

    async def scenario() -> tuple[int, str]:
        async with (
            browser_login(service_for(tmp_path, issuer)) as login,
            aiohttp.ClientSession() as session,
        ):
            async with session.get(login.url, allow_redirects=False) as authorize:
                callback = authorize.headers["Location"]
            on_ipv6 = callback.replace(f"localhost:{login.port}", f"[::1]:{login.port}")
            async with session.get(on_ipv6) as page:
                result = page.status, await page.text()
            await login.outcome()
            return result

    status, page = run(scenario)
    assert (status, "Signed in to Codex" in page) == (200, True)
    assert stored(tmp_path)["auth_mode"] == "chatgpt"


@contextmanager
def squatting_ipv6(port: int) -> Iterator[None]:
    """Another program listening on [::1]:port only."""
    squatter = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::1", port))
        squatter.listen(1)
        yield
    finally:
        squatter.close()


def test_a_port_taken_on_ipv6_loopback_is_refused_not_half_used(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    port = free_port()
    service = service_for(tmp_path, issuer)

    async def scenario() -> None:
        async with browser_login(service, port=port):
            pass

    with squatting_ipv6(port), pytest.raises(CallbackPortUnavailable) as refused:
        run(scenario)
    assert str(refused.value).startswith(
        f"cannot listen on localhost port {port}: [::1]:{port} is in use by another program; "
        "free it or choose another port with --port"
    )
    with socket.socket() as again:  # nothing was left listening on 127.0.0.1
        again.bind(("127.0.0.1", port))


def test_a_first_port_taken_on_ipv6_loopback_means_the_fallback_port(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    first, fallback = free_port(), free_port()
    service = service_for(tmp_path, issuer)

    async def scenario() -> int:
        server = CallbackServer(ports=(first, fallback), takeover_grace=0.3)
        async with browser_login(service, server=server, port=None) as login:
            await login.approve()
            await login.outcome()
            return login.port

    with squatting_ipv6(first):
        assert run(scenario) == fallback
