"""Fakes for the ports: they record what happened instead of mocking calls."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from codex_login.domain.device import DeviceCode, DevicePending
from codex_login.domain.errors import TokenEndpointError
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.tokens import TokenGrant
from codex_login.testing.clock import START, SettableClock
from codex_login.testing.tokens import access_token, id_token

# The clock is the kit's SettableClock; FakeClock is its old name here.
NOW = START
FakeClock = SettableClock


class FakeTokenEndpoint:
    """Records refreshes and revocations; answers with fresh tokens or a set failure."""

    def __init__(self, clock: FakeClock, *, ttl: timedelta = timedelta(hours=1)) -> None:
        self.clock = clock
        self.ttl = ttl
        self.refreshed: list[str] = []
        self.revoked: list[tuple[str, str]] = []
        self.issuers: list[IssuerConfig] = []  # where each call was sent
        self.api_key_requests = 0
        self.failure: Exception | None = None
        self.grant: TokenGrant | None = None
        self.gate: threading.Event | None = None
        self.hang = False
        # Device login: answers handed out in order, one per poll; each poll's loop time.
        self.device = DeviceCode("https://issuer.invalid/device", "ABCD-EFGH", "dc-1", 0.01)
        self.device_answers: list[TokenGrant | DevicePending | Exception] = []
        self.polled_at: list[float] = []
        self.api_key: str | None = None
        self._serial = 0

    async def authorization_request(
        self, issuer: IssuerConfig, *, redirect_uri: str
    ) -> AuthorizationRequest:
        self.issuers.append(issuer)
        return AuthorizationRequest(
            url="https://issuer.invalid/oauth/authorize",
            redirect_uri=redirect_uri,
            state="state",
            verifier="verifier",
        )

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        raise NotImplementedError

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        self.issuers.append(issuer)
        self.api_key_requests += 1
        if self.api_key is None:
            raise TokenEndpointError("this issuer gives no API keys")
        return self.api_key

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        self.issuers.append(issuer)
        self.refreshed.append(refresh_token)
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 30)
        if self.hang:
            await asyncio.sleep(3600)
        if self.failure is not None:
            raise self.failure
        if self.grant is not None:
            return self.grant
        self._serial += 1
        return TokenGrant(
            id_token=id_token(),
            access_token=access_token(self.clock.now() + self.ttl),
            refresh_token=f"rt-refreshed-{self._serial}",
        )

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        self.issuers.append(issuer)
        return self.device

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        self.polled_at.append(asyncio.get_running_loop().time())
        answer = self.device_answers.pop(0) if self.device_answers else DevicePending()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        self.issuers.append(issuer)
        self.revoked.append((token, hint))
        if self.failure is not None:
            raise self.failure
