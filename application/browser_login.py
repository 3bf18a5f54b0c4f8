"""Signing in with ChatGPT in a browser: one authorization request, one code exchange."""

from __future__ import annotations

import asyncio
import hmac
import logging

import attrs

from codex_login.application.credentials import record_or_none
from codex_login.domain.claims import IdToken
from codex_login.domain.errors import CodexLoginError, TokenEndpointError
from codex_login.domain.login import (
    AuthorizationRequest,
    issued_by,
    login_record,
    tokens_from_grant,
)
from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint
from codex_login.domain.tokens import TokenData

log = logging.getLogger(__name__)


@attrs.frozen
class LoginOutcome:
    """What a completed login stored, without secrets."""

    id_token: IdToken
    api_key_stored: bool
    superseded_refresh_token: str | None = attrs.field(default=None, repr=False)


class BrowserLogin:
    """One login attempt. Whatever arrives at the callback, the code is exchanged once."""

    def __init__(
        self,
        *,
        request: AuthorizationRequest,
        endpoint: TokenEndpoint,
        store: CredentialStore,
        clock: Clock,
        issuer: str,
        client_id: str,
    ) -> None:
        self.request = request
        self._issuer = issuer
        self._client_id = client_id
        self._endpoint = endpoint
        self._store = store
        self._clock = clock
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
        grant = await self._endpoint.exchange_code(
            code=code, redirect_uri=self.request.redirect_uri, verifier=self.request.verifier
        )
        tokens = tokens_from_grant(grant)
        api_key = await self._api_key_for(tokens)
        superseded = await asyncio.to_thread(self._store_login, tokens, api_key)
        if superseded is not None:
            await self._revoke(superseded)
        return LoginOutcome(tokens.id_token, api_key is not None, superseded)

    async def _revoke(self, refresh_token: str) -> None:
        """The replaced login's refresh token is of no use to anyone now: revoke it."""
        try:
            await self._endpoint.revoke(token=refresh_token, hint="refresh_token")
        except CodexLoginError as exc:
            log.info("could not revoke the replaced refresh token: %s", exc)

    async def _api_key_for(self, tokens: TokenData) -> str | None:
        """The API-key exchange is a bonus: its failure does not fail the login."""
        try:
            return await self._endpoint.exchange_api_key(id_token=tokens.id_token.raw)
        except TokenEndpointError as exc:
            log.info("no API key from the issuer: %s", exc)
            return None

    def _store_login(self, tokens: TokenData, api_key: str | None) -> str | None:
        """Commit the login; return the replaced refresh token if it may be revoked here."""
        with self._store.exclusive():
            previous = record_or_none(self._store)
            self._store.save(login_record(tokens, api_key, self._clock.now(), previous))
        old = previous.tokens if previous else None
        if old is None or old.refresh_token == tokens.refresh_token:
            return None
        if not issued_by(old.id_token, self._issuer, self._client_id):
            return None  # another issuer's token must not be sent to this one
        return old.refresh_token
