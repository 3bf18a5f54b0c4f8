"""`codex-login login --device-auth` in a real process against the fake issuer."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from codex_login import CodexAuth, LoginTimedOut
from codex_login.application.device_login import DeviceLogin
from codex_login.application.signin import SignIn
from codex_login.domain.device import SLOW_DOWN_STEP, DeviceCode
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import CLI, DEVICE_CODE, run_cli, start_device_login
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env
from support.waiting import wait_until

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


def start(
    home: Path, issuer: FakeIssuer, profile: str
) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start a device login; return it, the page, the code and all it printed."""
    return start_device_login(issuer_env(home, issuer, profile))


def finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    _, rest = child.communicate(timeout=60)
    return child.returncode, rest


def test_the_openai_device_flow(tmp_path: Path, issuer: FakeIssuer) -> None:
    child, page, code, _ = start(tmp_path, issuer, "openai")
    assert page == f"{issuer.url}/codex/device"
    issuer.approve_device(code)
    status, rest = finish(child)
    assert status == 0, rest
    assert "Successfully logged in" in rest.splitlines()
    [exchange] = issuer.posts("authorization_code")
    assert exchange.form["redirect_uri"] == f"{issuer.url}/deviceauth/callback"
    assert exchange.form["code_verifier"].startswith("verifier-")
    usercode_request = next(r for r in issuer.requests if r.path.endswith("/usercode"))
    assert usercode_request.json == {"client_id": "app_EMoamEEZ73f0CkXaXp7hrann"}
    document = json.loads((tmp_path / "auth.json").read_bytes())
    assert document["auth_mode"] == "chatgpt"
    assert document["tokens"]["account_id"] == "acc-123"


def test_the_standard_device_flow(tmp_path: Path, issuer: FakeIssuer) -> None:
    child, page, code, shown = start(tmp_path, issuer, "standard")
    assert page == f"{issuer.url}/device"
    assert f"(or open {issuer.url}/device?user_code={code})" in shown
    wait_until(lambda: issuer.posts(DEVICE_GRANT), what="the first poll")
    issuer.approve_device(code)  # after a pending answer: the CLI polls again
    status, rest = finish(child)
    assert status == 0, rest
    polls = issuer.posts(DEVICE_GRANT)
    assert len(polls) >= 2
    assert polls[0].form["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
    assert json.loads((tmp_path / "auth.json").read_bytes())["tokens"]["refresh_token"]


def test_the_standard_device_flow_honours_slow_down(tmp_path: Path, issuer: FakeIssuer) -> None:
    """RFC 8628 §3.5 over the real HTTP client: after ``slow_down`` the next wait is 5 s
    longer. The waits are recorded, not slept (the device login's sleeper port)."""
    issuer.device_slow_downs = 1
    service = bootstrap(codex_home=tmp_path, environ=issuer_env(tmp_path, issuer, "standard"))
    signin = SignIn(
        endpoint=service.seamed_endpoint,
        store=service.store,
        clock=service.clock,
        issuer=service.options.issuer,
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        [code] = issuer.devices
        issuer.approve_device(code)  # the user approves during the wait

    login = DeviceLogin(signin=signin, sleep=sleep)

    async def sign_in() -> None:
        await login.wait(await login.start())

    asyncio.run(sign_in())
    assert waits == [issuer.device_interval + SLOW_DOWN_STEP]
    polls = issuer.posts(DEVICE_GRANT)
    assert len(polls) >= 2
    assert polls[0].form["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
    assert json.loads((tmp_path / "auth.json").read_bytes())["tokens"]["refresh_token"]


def test_a_denied_device_login_writes_nothing(tmp_path: Path, issuer: FakeIssuer) -> None:
    child, _, code, _ = start(tmp_path, issuer, "standard")
    issuer.deny_device(code)
    status, rest = finish(child)
    assert status == 1
    assert rest.strip().splitlines()[-1] == (
        "Error: the sign-in was refused by the issuer (access_denied)"
    )
    assert not (tmp_path / "auth.json").exists()


def test_an_issuer_without_device_login_says_so(tmp_path: Path, issuer: FakeIssuer) -> None:
    env = issuer_env(tmp_path, issuer, "standard")
    issuer.metadata["device_authorization_endpoint"] = None
    result = subprocess.run(
        [str(CLI), "login", "--device-auth"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    assert "offers no device login" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_and_the_embedding_api_time_out_with_the_same_words(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """Nobody approves; both entrypoints give up after the same wait with the same text
    (the CLI adds only its remedy). They once had a timeout and a message each."""
    cli_home, api_home = tmp_path / "cli", tmp_path / "api"
    result = run_cli(
        "login", "--device-auth", "--timeout", "0.5", env=issuer_env(cli_home, issuer, "standard")
    )
    assert result.returncode != 0
    shown: list[DeviceCode] = []
    with (
        CodexAuth(codex_home=api_home, environ=issuer_env(api_home, issuer, "standard")) as auth,
        pytest.raises(LoginTimedOut) as raised,
    ):
        auth.login_with_device_code(show=shown.append, timeout=0.5)
    said = str(raised.value)
    assert said == f"the code {shown[0].user_code} was not approved within 0.5 s"
    code = DEVICE_CODE.search(result.stdout + result.stderr)
    assert code is not None
    assert said.replace(shown[0].user_code, code.group(1)) in result.stderr
    assert not (cli_home / "auth.json").exists()
    assert not (api_home / "auth.json").exists()
