"""The callback server's pages as a person sees them: in headless Chromium, 360 px wide.

Each browser test runs a real browser login against the fake issuer and looks at the
page it ends on: its visible text, that it fits a phone without scrolling sideways,
that it is readable in dark mode, that it asked for nothing but itself and logged no
error. Screenshots go to the test's temporary directory (``tmp_path``), never the
repository. A few tests at the end check the template itself and need no browser.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import attrs
import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint
from codex_login.adapters.port_claims import PortClaims
from codex_login.application.service import AuthService
from codex_login.application.signin import LoginOutcome
from codex_login.domain.errors import (
    AuthorizationDenied,
    LoginCancelled,
    LoginError,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.callback_server import CallbackServer
from codex_login.entrypoints.pages import (
    CONTENT_SECURITY_POLICY,
    already_finished_page,
    failure_page,
    method_not_allowed_page,
    not_found_page,
    notice_page,
    success_page,
)
from support.chromium import (  # noqa: F401  (fixtures)
    WIDTH,
    Chromium,
    Page,
    chromium_fixture,
    devtools,
    new_page,
)
from support.fake_issuer import FakeIssuer
from support.logins import stored

T = TypeVar("T")
PLATFORM = "https://platform.api.openai.org"


def service_for(home: Path, issuer: FakeIssuer) -> AuthService:
    return bootstrap(
        store=FileCredentialStore(home),
        endpoint=HttpTokenEndpoint(),
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,
        environ={},
    )


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


@attrs.define
class Login:
    task: asyncio.Task[LoginOutcome]
    url: str  # the authorize URL the user opens
    port: int

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.url).query)["state"][0]

    def at(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"

    async def outcome(self) -> LoginOutcome:
        return await asyncio.wait_for(asyncio.shield(self.task), 30)


@asynccontextmanager
async def login_running(
    service: AuthService, *, server: CallbackServer | None = None
) -> AsyncIterator[Login]:
    announced: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    task = asyncio.create_task(
        service.login_in_browser(
            announce=lambda url, port: announced.put_nowait((url, port)),
            port=0,
            timeout=60,
            listener=server,
        )
    )
    url, port = await asyncio.wait_for(announced.get(), 30)
    try:
        yield Login(task, url, port)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class LingeringServer(CallbackServer):
    """Still answering after the login ended: the moment before a real one closes,
    or an application that embeds the server and closes it later."""

    async def close(self) -> None:
        pass

    async def really_close(self) -> None:
        await super().close()


# -- what every page must be ----------------------------------------------------------------


@attrs.frozen
class Seen:
    title: str
    text: str
    html: str


async def look(page: Page, shots: Path, name: str) -> Seen:
    """Check what holds for every page, screenshot it light and dark, return what shows."""
    title = await page.evaluate("document.title")
    assert title, "every page has a <title>"
    # A phone widens the layout to fit anything wider than the screen: both must stay put.
    laid_out = await page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
    assert laid_out == [WIDTH, WIDTH], f"{name} is {laid_out} px wide: it scrolls sideways"
    assert await page.evaluate("document.scripts.length") == 0
    html = await page.evaluate("document.documentElement.outerHTML")
    assert "<script" not in html
    policy = "document.querySelector('meta[http-equiv=Content-Security-Policy]').content"
    assert await page.evaluate(policy) == CONTENT_SECURITY_POLICY
    light = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    await page.screenshot(shots / f"{name}-light.png")
    await page.prefer("dark")
    dark = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    dark_text = await page.evaluate("getComputedStyle(document.body).color")
    await page.screenshot(shots / f"{name}-dark.png")
    await page.prefer("light")
    assert light != dark, "dark mode changes the background"
    assert dark_text != dark
    return Seen(title, await page.text(), html)


def assert_nothing_left_the_page(page: Page, login: Login, issuer: FakeIssuer) -> None:
    """Only documents, only on loopback: no asset, no font, no favicon, no beacon."""
    assert page.blocked == []
    ours = (f"localhost:{login.port}", urlsplit(issuer.url).netloc)
    strays = [
        r for r in page.requests if r.kind != "Document" or urlsplit(r.url).netloc not in ours
    ]
    assert strays == []


def assert_no_errors(page: Page) -> None:
    assert page.problems == []


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# -- in the browser -------------------------------------------------------------------------


def test_the_success_page_reads_well_on_a_phone_in_light_and_dark(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    async def scenario() -> tuple[Seen, str, int]:
        async with (
            login_running(service_for(tmp_path / "home", issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            load = await page.open(login.url)  # the issuer approves and sends us back
            await login.outcome()
            seen = await look(page, tmp_path, "success")
            assert_nothing_left_the_page(page, login, issuer)
            assert_no_errors(page)
            return seen, load.url, load.status

    seen, url, status = run(scenario)
    assert (urlsplit(url).path, status) == ("/success", 200)
    assert seen.title == "Signed in to Codex"
    assert lines(seen.text) == [
        "Signed in to Codex",
        "You are signed in as user@example.com. "
        "You can close this tab and go back to your terminal.",
    ]
    tokens = stored(tmp_path / "home")["tokens"]
    for secret in (tokens["id_token"], tokens["access_token"], tokens["refresh_token"]):
        assert secret not in seen.html
    assert "code-" not in seen.html


def test_org_owners_are_taken_on_to_the_platform_in_the_browser(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    issuer.claims = {
        "is_org_owner": True,
        "completed_platform_onboarding": False,
        "organization_id": "org-<1>",
        "project_id": "proj-1",
    }

    async def scenario() -> tuple[Seen, str, list[str]]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            # The platform is not on this machine: the page stands in for it, in the browser.
            page.stand_in = lambda url: (
                '<!DOCTYPE html><link rel="icon" href="data:,"><title>Platform</title>'
                "<p>Organization setup</p>"
                if url.startswith(f"{PLATFORM}/org-setup?")
                else None
            )
            page.release.clear()  # the success page stays until it has been looked at
            mark = len(page.events)
            await page.open(login.url)
            await login.outcome()
            seen = await look(page, tmp_path, "org-setup")
            page.release.set()
            after = await page.wait_for(
                "Page.frameNavigated",
                since=mark,
                where=lambda event: event["frame"]["url"].startswith(PLATFORM),
                timeout=10,
            )
            await page.wait_for("Page.loadEventFired", since=after, timeout=10)
            assert await page.text() == "Organization setup"
            assert_no_errors(page)
            return seen, await page.url(), page.blocked

    seen, landed, blocked = run(scenario)
    assert lines(seen.text)[:2] == [
        "Signed in to Codex",
        "You are signed in as user@example.com. "
        "Your API organization needs a few more details before you can use it.",
    ]
    assert "Finish setting up" in seen.text
    assert "org-<1>" not in seen.html
    parts = urlsplit(landed)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PLATFORM}/org-setup"
    query = parse_qs(parts.query)
    assert query == {
        "p": ["pro"],
        "t": [stored(tmp_path)["tokens"]["id_token"]],
        "with_org": ["org-<1>"],
        "project_id": ["proj-1"],
    }
    assert blocked == [landed], "the one request to another host, answered in the browser"


def test_a_declined_sign_in_says_so_before_the_issuers_error_code(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    issuer.authorize_error = "access_denied"

    async def scenario() -> tuple[Seen, int, str]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            load = await page.open(login.url)
            with pytest.raises(AuthorizationDenied):
                await login.outcome()
            seen = await look(page, tmp_path, "declined")
            assert_nothing_left_the_page(page, login, issuer)
            assert_no_errors(page)
            return seen, load.status, login.state

    seen, status, state = run(scenario)
    assert status == 400
    assert seen.title == "Sign-in failed"
    assert lines(seen.text) == [
        "Sign-in failed",
        "The sign-in was declined, so you are not signed in.",
        "Nothing was saved. To try again, run codex-login login in your terminal.",
        "Error code",
        "access_denied",
        "Description",
        "the user declined",
    ]
    assert state not in seen.html
    assert not (tmp_path / "auth.json").exists()


def test_the_error_page_shows_what_the_issuer_sent_as_text_and_still_fits(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    hostile = (
        "<img src=https://evil.example/x.png><script>console.error('ran')</script>"
        "<b>bold</b> " + "unbroken" * 40
    )

    async def scenario() -> tuple[Seen, int]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            query = {
                "state": login.state,
                "error": "server_error<i>",
                "error_description": hostile,
                "iss": issuer.url,
            }
            load = await page.open(login.at(f"/auth/callback?{urlencode(query)}"))
            with pytest.raises(AuthorizationDenied):
                await login.outcome()
            seen = await look(page, tmp_path, "hostile-error")
            assert await page.evaluate("document.querySelectorAll('img, b, i').length") == 0
            assert_nothing_left_the_page(page, login, issuer)
            assert_no_errors(page)
            return seen, load.status

    seen, status = run(scenario)
    assert status == 400
    shown = lines(seen.text)
    assert shown[1] == "The sign-in service refused this sign-in, so you are not signed in."
    assert shown[3:] == ["Error code", "server_error<i>", "Description", hostile]


def test_a_callback_for_another_sign_in_changes_nothing(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    async def scenario() -> tuple[Seen, int]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            load = await page.open(login.at("/auth/callback?code=code-9&state=another"))
            seen = await look(page, tmp_path, "wrong-state")
            assert_no_errors(page)
            assert not login.task.done()
            finished = await page.open(login.url)
            assert (urlsplit(finished.url).path, finished.status) == ("/success", 200)
            await login.outcome()
            return seen, load.status

    seen, status = run(scenario)
    assert status == 400
    assert lines(seen.text) == [
        "Not the sign-in in progress",
        "This response does not belong to the login waiting here. "
        "If you started a newer login, finish it in its own browser tab.",
    ]
    assert "code-9" not in seen.html
    assert len(issuer.posts("authorization_code")) == 1


def test_unknown_addresses_and_other_methods_get_the_same_kind_of_page(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    async def scenario() -> list[tuple[int, Seen]]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            devtools(chromium) as tools,
            new_page(tools) as page,
        ):
            seen = []
            for name, path in (("not-found", "/nowhere?x=<b>"), ("too-early", "/success")):
                load = await page.open(login.at(path))
                seen.append((load.status, await look(page, tmp_path, name)))
            # A form posted from another page: a real POST navigation.
            await page.open("about:blank")
            mark = len(page.events)
            await page.evaluate(
                "const form = document.createElement('form');"
                f"form.method = 'post'; form.action = {login.at('/auth/callback')!r};"
                "document.body.append(form); form.submit()"
            )
            await page.wait_for("Page.loadEventFired", since=mark)
            seen.append((page.loads[-1].status, await look(page, tmp_path, "wrong-method")))
            assert_no_errors(page)
            assert not login.task.done()
            return seen

    (missing, missing_seen), (early, early_seen), (method, method_seen) = run(scenario)
    assert (missing, early, method) == (404, 404, 405)
    assert missing_seen == early_seen
    assert missing_seen.title == "Page not found"
    assert lines(missing_seen.text) == [
        "Page not found",
        "There is nothing at this address. It belongs to a Codex sign-in running "
        "in a terminal on this computer, and only that sign-in uses it.",
    ]
    assert method_seen.title == "Method not allowed"
    assert lines(method_seen.text)[1] == (
        "This address only answers a browser opening it as a plain link."
    )


def test_coming_back_after_the_login_finished_says_so_and_changes_nothing(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    async def scenario() -> list[tuple[int, Seen]]:
        server = LingeringServer()
        try:
            async with (
                login_running(service_for(tmp_path, issuer), server=server) as login,
                devtools(chromium) as tools,
                new_page(tools) as page,
            ):
                await page.open(login.url)
                await login.outcome()
                callback = next(r.url for r in page.requests if "/auth/callback?" in r.url)
                success = next(r.url for r in page.requests if "/success?" in r.url)
                seen = []
                for name, url in (("again-success", success), ("again", callback)):
                    load = await page.open(url)
                    seen.append((load.status, await look(page, tmp_path, name)))
                assert_no_errors(page)
                return seen
        finally:
            await server.really_close()

    (success_status, success_seen), (callback_status, callback_seen) = run(scenario)
    assert success_status == callback_status == 200
    assert success_seen == callback_seen
    assert success_seen.title == "Already signed in"
    assert lines(success_seen.text) == [
        "This sign-in is already finished",
        "You are signed in to Codex. You can close this tab and go back to your terminal.",
    ]
    assert len(issuer.posts("authorization_code")) == 1


def test_a_callback_after_the_login_was_cancelled_is_not_used(
    tmp_path: Path, issuer: FakeIssuer, chromium: Chromium
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    claims = PortClaims(runtime)

    async def scenario() -> tuple[int, Seen]:
        server = LingeringServer(claims=claims)
        try:
            async with (
                login_running(service_for(tmp_path, issuer), server=server) as login,
                devtools(chromium) as tools,
                new_page(tools) as page,
            ):
                secret = urlencode({"secret": claims.secret_for(login.port)})
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{login.port}/cancel?{secret}") as cancelled,
                ):
                    assert cancelled.status == 200
                with pytest.raises(LoginCancelled):
                    await login.outcome()
                load = await page.open(login.url)  # the user approves only now
                seen = await look(page, tmp_path, "ended")
                assert_no_errors(page)
                return load.status, seen
        finally:
            await server.really_close()

    status, seen = run(scenario)
    assert status == 410
    assert lines(seen.text) == [
        "This sign-in has already ended",
        "It ended without signing you in, so this response was not used.",
        "Nothing was saved. To try again, run codex-login login in your terminal.",
    ]
    assert issuer.posts("authorization_code") == []
    assert not (tmp_path / "auth.json").exists()


# -- the template, without a browser ------------------------------------------------------

EVERY_PAGE = {
    "success": success_page(email="user@example.com", setup_url=None),
    "org setup": success_page(email=None, setup_url=f"{PLATFORM}/org-setup?p=pro&t=x.y.z"),
    "declined": failure_page(AuthorizationDenied("access_denied", "no")),
    "token endpoint": failure_page(TokenEndpointError("x", error_code="invalid_grant")),
    "unreachable": failure_page(TransientTokenError("code exchange failed: timeout")),
    "other": failure_page(LoginError("the sign-in response came from 'x', not from y")),
    "notice": notice_page("Not the sign-in in progress", "Not this one.", retry=True),
    "not found": not_found_page(),
    "method": method_not_allowed_page(),
    "finished": already_finished_page(signed_in=True),
    "ended": already_finished_page(signed_in=False),
}


@pytest.mark.parametrize("name", list(EVERY_PAGE))
def test_every_page_is_the_one_self_contained_template(name: str) -> None:
    page = EVERY_PAGE[name]
    assert re.search(r"<title>[^<]+</title>", page)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (prefers-color-scheme: dark)" in page
    assert f'content="{CONTENT_SECURITY_POLICY}"' in page
    assert "<script" not in page
    assert not re.search(r"\s(src|srcset|action)=|rel=\"stylesheet\"|@import|url\(", page)
    # The one address to another host is the org-setup link (and its refresh).
    setup = f"{PLATFORM}/org-setup?p=pro&amp;t=x.y.z"
    assert re.findall(r"https?://[^\"'\s<]+", page) in ([], [setup, setup])
    lead = re.search(r'<p class="lead">([^<]+)</p>', page)
    assert lead is not None
    assert lead.group(1)[0].isupper()
    assert lead.group(1).rstrip().endswith(".")


def test_failure_pages_lead_with_a_sentence_then_give_the_details() -> None:
    page = failure_page(TokenEndpointError("code exchange failed: invalid_grant", error_code="x"))
    assert page.index('class="lead"') < page.index("Error code") < page.index("Details")
    assert "<dd>Code exchange failed: invalid_grant</dd>" in page
    page = failure_page(TransientTokenError("https://issuer/oauth/token did not answer"))
    assert "<dd>https://issuer/oauth/token did not answer</dd>" in page
    page = failure_page(LoginError("invalid_grant: code reused"))
    assert "<dd>invalid_grant: code reused</dd>" in page


def test_pages_escape_everything_they_echo() -> None:
    hostile = "<script>alert('x')</script>\"&"
    pages = [
        success_page(email=hostile, setup_url=None),
        success_page(email=hostile, setup_url=f"{PLATFORM}/org-setup?t={hostile}"),
        failure_page(AuthorizationDenied(hostile, hostile)),
        failure_page(TokenEndpointError(hostile, error_code=hostile)),
        notice_page(hostile, hostile),
    ]
    for page in pages:
        assert "<script>" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&amp;" in page


def test_404_and_405_are_pages_of_the_template_with_their_status(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    async def scenario() -> list[tuple[int, str, str, str | None]]:
        async with (
            login_running(service_for(tmp_path, issuer)) as login,
            aiohttp.ClientSession() as session,
        ):
            answers = []
            for method, path in (("GET", "/nowhere"), ("POST", "/auth/callback")):
                async with session.request(method, login.at(path)) as response:
                    answers.append(
                        (
                            response.status,
                            response.content_type,
                            await response.text(),
                            response.headers.get("Allow"),
                        )
                    )
            return answers

    (missing, kind, page, _), (method, kind_405, page_405, allow) = run(scenario)
    assert (missing, kind, page) == (404, "text/html", not_found_page())
    assert (method, kind_405, page_405, allow) == (
        405,
        "text/html",
        method_not_allowed_page(),
        "GET",
    )
