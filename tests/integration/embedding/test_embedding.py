"""The public embedding API: one import, blocking and async twins, from scripts, threads, loops."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

import codex_login
from codex_login import (
    AsyncCodexAuth,
    CodexAuth,
    LoginTimedOut,
    NotLoggedIn,
)
from codex_login.domain.device import DeviceCode
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.stores import FileCredentialStore
from support.cli import clean_env
from support.fake_issuer import FakeIssuer
from support.logins import stored, write_login

SCRIPT = """
from codex_login import CodexAuth
auth = CodexAuth()
print(auth.get_token())
print(auth.auth().mode.value)
"""


def expired_login(home: Path, issuer: FakeIssuer) -> None:
    write_login(
        home, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1), issuer=issuer.url
    )


def stored_access_token(home: Path) -> str:
    token: str = stored(home)["tokens"]["access_token"]
    return token


def test_everything_public_is_listed_and_importable() -> None:
    for name in codex_login.__all__:
        assert getattr(codex_login, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        codex_login.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_importing_a_layer_does_not_load_the_public_api() -> None:
    code = (
        "import sys, codex_login.domain.issuer; "
        "print(sorted(m for m in sys.modules if 'embedding' in m or 'aiohttp' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_plain_script_gets_a_refreshed_token(tmp_path: Path, issuer: FakeIssuer) -> None:
    expired_login(tmp_path, issuer)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [stored_access_token(tmp_path), "chatgpt"]
    assert len(issuer.posts("refresh_token")) == 1


def test_32_threads_share_one_refresh(tmp_path: Path, issuer: FakeIssuer) -> None:
    expired_login(tmp_path, issuer)
    with CodexAuth(store=FileCredentialStore(tmp_path), environ={}) as auth:
        barrier = threading.Barrier(32)

        def call() -> str:
            barrier.wait()
            return auth.get_token()

        with ThreadPoolExecutor(32) as pool:
            tokens = list(pool.map(lambda _: call(), range(32)))
    assert set(tokens) == {stored_access_token(tmp_path)}
    assert len(issuer.posts("refresh_token")) == 1


def test_the_blocking_twin_works_inside_a_running_event_loop(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    expired_login(tmp_path, issuer)
    auth = CodexAuth(store=FileCredentialStore(tmp_path), environ={})

    async def notebook_cell() -> str:
        return auth.get_token()  # as in Jupyter: a blocking call on the loop's own thread

    try:
        assert asyncio.run(notebook_cell()) == stored_access_token(tmp_path)
    finally:
        auth.close()
    assert len(issuer.posts("refresh_token")) == 1


def test_the_async_twin_shares_one_refresh_between_coroutines(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    expired_login(tmp_path, issuer)
    auth = AsyncCodexAuth(store=FileCredentialStore(tmp_path), environ={})

    async def many() -> list[str]:
        return await asyncio.gather(*(auth.get_token() for _ in range(32)))

    assert set(asyncio.run(many())) == {stored_access_token(tmp_path)}
    assert len(issuer.posts("refresh_token")) == 1


def test_the_async_twin_on_32_loops_in_32_threads_refreshes_once(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    expired_login(tmp_path, issuer)
    auth = AsyncCodexAuth(store=FileCredentialStore(tmp_path), environ={})
    with ThreadPoolExecutor(32) as pool:
        tokens = list(pool.map(lambda _: asyncio.run(auth.get_token()), range(32)))
    assert set(tokens) == {stored_access_token(tmp_path)}
    assert len(issuer.posts("refresh_token")) == 1


def test_both_twins_report_not_logged_in(tmp_path: Path) -> None:
    with pytest.raises(NotLoggedIn):
        CodexAuth(store=FileCredentialStore(tmp_path), environ={}).get_token()
    with pytest.raises(NotLoggedIn):
        asyncio.run(AsyncCodexAuth(store=FileCredentialStore(tmp_path), environ={}).get_token())


def test_not_logged_in_names_where_it_looked_in_order(tmp_path: Path) -> None:
    """Like a chained credential's error: the sources tried, in order (issue 21)."""
    looked = f"not logged in: looked for CODEX_API_KEY, {tmp_path / 'auth.json'}, OPENAI_API_KEY"
    with pytest.raises(NotLoggedIn) as blocking:
        CodexAuth(store=FileCredentialStore(tmp_path), environ={}).get_token()
    with pytest.raises(NotLoggedIn) as twin:
        asyncio.run(AsyncCodexAuth(store=FileCredentialStore(tmp_path), environ={}).get_token())
    assert str(blocking.value) == str(twin.value) == looked


def test_errors_say_what_happened_and_their_kind_says_what_to_do(tmp_path: Path) -> None:
    """An embedder decides what to tell its user: no message names the CLI's commands."""
    (tmp_path / "auth.json").write_text('{"auth_mode": "chatgpt", "tokens": 42}')
    with pytest.raises(codex_login.SignInRequired) as malformed:
        CodexAuth(store=FileCredentialStore(tmp_path), environ={}).get_token()
    with pytest.raises(codex_login.SignInRequired) as nothing:
        CodexAuth(store=FileCredentialStore(tmp_path / "empty"), environ={}).get_token()
    assert isinstance(malformed.value, codex_login.CredentialsError)
    assert isinstance(nothing.value, NotLoggedIn)
    for said in (str(malformed.value), str(nothing.value)):
        assert "codex-login" not in said


def follow(url: str) -> None:
    """What the user's browser does: the fake issuer approves at once and redirects back."""
    with urllib.request.urlopen(url, timeout=30) as page:
        page.read()


def test_a_blocking_browser_login_status_and_logout(tmp_path: Path, issuer: FakeIssuer) -> None:
    with CodexAuth(
        codex_home=tmp_path, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    ) as auth:
        browser = ThreadPoolExecutor(1)

        def announce(url: str, port: int) -> None:
            browser.submit(follow, url)

        outcome = auth.login_in_browser(announce=announce, open_browser=False, port=0)
        browser.shutdown()
        assert outcome.id_token.email == "user@example.com"
        status = auth.status()
        assert status is not None
        assert status.issuer == issuer.url
        assert auth.logout().revoked
        assert auth.status() is None


def test_a_device_login_from_both_twins(tmp_path: Path, issuer: FakeIssuer) -> None:
    def approve(device: DeviceCode) -> None:
        issuer.approve_device(device.user_code)

    sync_home, async_home = tmp_path / "sync", tmp_path / "async"
    with CodexAuth(
        codex_home=sync_home, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    ) as auth:
        assert auth.login_with_device_code(show=approve).id_token.email == "user@example.com"
    twin = AsyncCodexAuth(
        codex_home=async_home, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    )
    asyncio.run(twin.login_with_device_code(show=approve))
    assert stored(sync_home)["tokens"]["oauth_provenance"]["issuer"] == issuer.url
    assert stored(async_home)["tokens"]["oauth_provenance"]["issuer"] == issuer.url


def test_a_device_login_nobody_approves_times_out(tmp_path: Path, issuer: FakeIssuer) -> None:
    with (
        CodexAuth(
            codex_home=tmp_path, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
        ) as auth,
        pytest.raises(LoginTimedOut, match=r"not approved within 0\.3 s"),
    ):
        auth.login_with_device_code(show=lambda _: None, timeout=0.3)


def test_a_blocking_call_from_its_own_callback_is_refused(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    with CodexAuth(
        codex_home=tmp_path, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    ) as auth:
        seen: list[BaseException] = []

        def show(device: DeviceCode) -> None:
            try:
                auth.refresh()
            except RuntimeError as exc:
                seen.append(exc)
            issuer.approve_device(device.user_code)

        auth.login_with_device_code(show=show)
    assert "use AsyncCodexAuth" in str(seen[0])


@pytest.mark.parametrize(
    ("given", "display"), [({}, None), ({"WAYLAND_DISPLAY": "wayland-1"}, "wayland-1")]
)
def test_the_browser_is_looked_for_on_the_display_of_the_environ_given(
    tmp_path: Path,
    issuer: FakeIssuer,
    monkeypatch: pytest.MonkeyPatch,
    given: dict[str, str],
    display: str | None,
) -> None:
    """``environ={}`` means no display: the process's own DISPLAY is not the object's."""
    from codex_login.adapters import browser  # noqa: PLC0415

    monkeypatch.setenv("DISPLAY", ":7")
    asked: list[str | None] = []

    class Recorded(browser.SystemBrowser):
        def __init__(self, display: str | None) -> None:
            asked.append(display)
            super().__init__(display)

        def open(self, url: str) -> bool:
            follow(url)  # the user's browser, at once
            return True

    monkeypatch.setattr(browser, "SystemBrowser", Recorded)
    with CodexAuth(
        codex_home=tmp_path, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ=given
    ) as auth:
        auth.login_in_browser(announce=lambda url, port: None, open_browser=True, port=0)
    assert asked == [display]
