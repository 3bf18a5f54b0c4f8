"""Signing in with a device code: for machines without a browser (SSH, containers, CI).

The user opens the issuer's page on any device and types the code shown here;
this side polls until the issuer says yes, no, or the code expired.
"""

from __future__ import annotations

import asyncio
import logging

from codex_login.application.signin import LoginOutcome, SignIn
from codex_login.domain.device import MAX_WAIT, SLOW_DOWN_STEP, DeviceCode, DevicePending
from codex_login.domain.errors import LoginTimedOut, TransientTokenError
from codex_login.domain.issuer import IssuerProfile
from codex_login.domain.tokens import TokenGrant

log = logging.getLogger(__name__)


class DeviceLogin:
    def __init__(
        self, *, signin: SignIn, max_wait: float = MAX_WAIT, slow_down_step: float = SLOW_DOWN_STEP
    ) -> None:
        self._signin = signin
        self._max_wait = max_wait
        self._slow_down_step = slow_down_step

    async def start(self) -> DeviceCode:
        """A user code and where to enter it; show both to the user."""
        return await self._signin.endpoint.start_device_authorization(self._signin.issuer)

    async def wait(self, device: DeviceCode) -> LoginOutcome:
        """Poll at the issuer's pace until it answers; then store the login."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self._max_wait, device.expires_in)
        interval = device.interval
        while True:
            answer = await self._poll(device)
            if isinstance(answer, TokenGrant):
                # As the Codex CLI does, a device login on the OpenAI issuer asks for no API key.
                openai = self._signin.issuer.profile is IssuerProfile.OPENAI
                return await self._signin.store_grant(answer, exchange_api_key=not openai)
            if answer.slow_down:
                interval += self._slow_down_step
            if loop.time() + interval > deadline:
                raise LoginTimedOut(f"the code {device.user_code} was not approved in time")
            await asyncio.sleep(interval)  # the pace the issuer asked for (RFC 8628 §3.5)

    async def _poll(self, device: DeviceCode) -> TokenGrant | DevicePending:
        """A network blip during a 15-minute wait is not a reason to give up."""
        try:
            return await self._signin.endpoint.poll_device_authorization(
                self._signin.issuer, device
            )
        except TransientTokenError as exc:
            log.info("polling failed, trying again: %s", exc)
            return DevicePending()
