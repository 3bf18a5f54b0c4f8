"""Signing in with a device code: for machines without a browser (SSH, containers, CI).

The user opens the issuer's page on any device and types the code shown here;
this side polls until the issuer says yes, no, or the time is up. The whole flow
(start, show, poll, give up, store) is ``login_with_device_code``; an entrypoint
gives it only the way to show the code and how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from codex_login.application.signin import LoginOutcome, SignIn
from codex_login.domain.device import MAX_WAIT, SLOW_DOWN_STEP, DeviceCode, DevicePending
from codex_login.domain.errors import LoginTimedOut, TransientTokenError
from codex_login.domain.issuer import IssuerProfile
from codex_login.domain.tokens import TokenGrant

log = logging.getLogger(__name__)


Sleep = Callable[[float], Awaitable[object]]  # waits this many seconds between two polls


class DeviceLogin:
    def __init__(
        self,
        *,
        signin: SignIn,
        slow_down_step: float = SLOW_DOWN_STEP,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._signin = signin
        self._slow_down_step = slow_down_step
        self._sleep = sleep  # a test's own, to see the pace without waiting it out

    async def start(self) -> DeviceCode:
        """A user code and where to enter it; show both to the user."""
        return await self._signin.endpoint.start_device_authorization(self._signin.issuer)

    async def wait(self, device: DeviceCode, timeout: float = MAX_WAIT) -> LoginOutcome:
        """Poll at the issuer's pace until it answers, for ``timeout`` seconds at most
        (less if the code expires sooner); then store the login."""
        limit = min(timeout, device.expires_in)
        try:
            async with asyncio.timeout(limit) as scope:
                grant = await self._approval(device)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise LoginTimedOut(
                f"the code {device.user_code} was not approved within {limit:g} s"
            ) from exc
        # As the Codex CLI does, a device login on the OpenAI issuer asks for no API key.
        openai = self._signin.issuer.profile is IssuerProfile.OPENAI
        return await self._signin.store_grant(grant, exchange_api_key=not openai)

    async def _approval(self, device: DeviceCode) -> TokenGrant:
        interval = device.interval
        while True:
            answer = await self._poll(device)
            if isinstance(answer, TokenGrant):
                return answer
            if answer.slow_down:
                interval += self._slow_down_step
            await self._sleep(interval)  # the pace the issuer asked for (RFC 8628 §3.5)

    async def _poll(self, device: DeviceCode) -> TokenGrant | DevicePending:
        """A network blip during a 15-minute wait is not a reason to give up."""
        try:
            return await self._signin.endpoint.poll_device_authorization(
                self._signin.issuer, device
            )
        except TransientTokenError as exc:
            log.info("polling failed, trying again: %s", exc)
            return DevicePending()


async def login_with_device_code(
    begin: Callable[[], DeviceLogin],
    *,
    announce: Callable[[DeviceCode], None],
    timeout: float = MAX_WAIT,
) -> LoginOutcome:
    """The whole device login: get a code, ``announce(device)`` it, wait for approval.

    ``timeout`` (15 minutes unless given, and never past the code's expiry) ends
    the wait with LoginTimedOut, whichever entrypoint asked.
    """
    login = begin()
    device = await login.start()
    announce(device)
    return await login.wait(device, timeout)
