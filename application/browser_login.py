"""Signing in with ChatGPT in a browser: one authorization request, one code exchange."""

from __future__ import annotations

import asyncio
import hmac

from codex_login.application.signin import LoginOutcome, SignIn
from codex_login.domain.login import AuthorizationRequest


class BrowserLogin:
    """One login attempt. Whatever arrives at the callback, the code is exchanged once."""

    def __init__(self, *, request: AuthorizationRequest, signin: SignIn) -> None:
        self.request = request
        self._signin = signin
        self._exchange: asyncio.Future[LoginOutcome] | None = None

    @property
    def url(self) -> str:
        return self.request.url

    def state_matches(self, state: str | None) -> bool:
        """Constant-time comparison with the state sent to the issuer."""
        if state is None:
            return False
        return hmac.compare_digest(state.encode(), self.request.state.encode())

    @property
    def exchange_started(self) -> bool:
        return self._exchange is not None

    async def complete(self, code: str) -> LoginOutcome:
        """Exchange ``code`` and store the credentials; later calls share the first result."""
        if self._exchange is None:
            self._exchange = asyncio.ensure_future(self._exchange_and_store(code))
        return await asyncio.shield(self._exchange)

    async def _exchange_and_store(self, code: str) -> LoginOutcome:
        grant = await self._signin.endpoint.exchange_code(
            code=code, redirect_uri=self.request.redirect_uri, verifier=self.request.verifier
        )
        return await self._signin.store_grant(grant)
