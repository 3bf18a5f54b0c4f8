"""The device-code login's polling, with a fake endpoint and the memory store."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.device_login import DeviceLogin
from codex_login.application.signin import LoginOutcome, SignIn
from codex_login.domain.device import SLOW_DOWN_STEP, DevicePending
from codex_login.domain.errors import AuthorizationDenied, LoginTimedOut, TransientTokenError
from codex_login.domain.issuer import issuer_config
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import TokenGrant
from support.fakes import FakeClock, FakeTokenEndpoint
from support.tokens import access_token, id_token

ISSUER = issuer_config(issuer="https://issuer.invalid")


def device_login(
    endpoint: FakeTokenEndpoint, slow_down_step: float = SLOW_DOWN_STEP
) -> tuple[DeviceLogin, MemoryCredentialStore]:
    store = MemoryCredentialStore()
    signin = SignIn(endpoint=endpoint, store=store, clock=endpoint.clock, issuer=ISSUER)
    return DeviceLogin(signin=signin, slow_down_step=slow_down_step), store


def grant(clock: FakeClock) -> TokenGrant:
    return TokenGrant(
        id_token=id_token(plan="plus"),
        access_token=access_token(clock.now()),
        refresh_token="rt-device",
    )


async def run_login(login: DeviceLogin) -> LoginOutcome:
    return await login.wait(await login.start())


def test_polls_until_approved_then_stores_the_login() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device_answers = [DevicePending(), DevicePending(), grant(endpoint.clock)]
    login, store = device_login(endpoint)
    outcome = asyncio.run(run_login(login))
    assert len(endpoint.polled_at) == 3
    assert outcome.id_token.email == "user@example.com"
    loaded = store.load()
    assert loaded is not None
    assert loaded.record.auth_mode is AuthMode.CHATGPT
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.refresh_token == "rt-device"


def test_slow_down_makes_the_polls_further_apart() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device_answers = [
        DevicePending(),
        DevicePending(slow_down=True),
        grant(endpoint.clock),
    ]
    login, _ = device_login(endpoint, slow_down_step=0.3)
    asyncio.run(run_login(login))
    first, second, third = endpoint.polled_at
    assert third - second >= 0.3
    assert second - first < 0.3


def test_network_trouble_while_waiting_is_not_fatal() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device_answers = [TransientTokenError("HTTP 502"), grant(endpoint.clock)]
    login, store = device_login(endpoint)
    asyncio.run(run_login(login))
    assert store.load() is not None


def test_a_denied_approval_ends_the_login_and_writes_nothing() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device_answers = [DevicePending(), AuthorizationDenied("access_denied", None)]
    login, store = device_login(endpoint)
    with pytest.raises(AuthorizationDenied, match="access_denied"):
        asyncio.run(run_login(login))
    assert store.saved == []


def test_the_code_expires() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device = attrs.evolve(endpoint.device, expires_in=0.2)
    login, store = device_login(endpoint)
    with pytest.raises(LoginTimedOut, match=r"ABCD-EFGH was not approved within 0\.2 s"):
        asyncio.run(run_login(login))
    assert store.saved == []
