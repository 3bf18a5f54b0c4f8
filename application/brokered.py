"""Tokens from a broker (``codex-login serve``) instead of a store: for sandboxes.

The broker owns the login and refreshes it; this side keeps the last token it
was given until it is due by the same rule as a stored one (5 minutes before
expiry, or half its remaining lifetime when shorter), so a program asking for
a token on every request costs the broker one request per token, not one per
call. A token a server refused is sent back as ``stale`` for a refreshed one.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime, timedelta

from codex_login.application.seam import off_loop
from codex_login.application.status import Status
from codex_login.domain.errors import SignInRequired
from codex_login.domain.model_api import ModelApi
from codex_login.domain.ports import Clock, TokenBroker
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.tokens import AccessToken

# How long a token without an expiry (an API key) is kept before asking again.
UNTIMED_TOKEN_KEPT = timedelta(minutes=5)


class BrokeredTokens:
    """The token half of the auth manager's surface, backed by a broker."""

    def __init__(
        self, *, broker: TokenBroker, clock: Clock, policy: RefreshPolicy | None = None
    ) -> None:
        self._broker = broker
        self._clock = clock
        self._policy = policy or RefreshPolicy()
        self._kept: tuple[AccessToken, datetime] | None = None  # the token and when it is due
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return self._broker.location

    def fresh(self) -> AccessToken | None:
        """The token kept from the broker while it is not due, else None; never waits."""
        kept = self._kept
        if kept is not None and self._clock.now() < kept[1]:
            return kept[0]
        return None

    def fetch(self, *, stale: str | None = None) -> AccessToken:
        """Ask the broker (blocking): the current token, or one refreshed past ``stale``."""
        with self._lock:
            kept = self.fresh()
            if kept is not None and (stale is None or kept.token != stale):
                return kept  # another thread asked meanwhile
            token = self._broker.fetch(stale=stale)
            self._kept = (token, self._due(token))
            return token

    def model_api_of(self, token: AccessToken) -> ModelApi:
        """The model API the broker said with ``token``."""
        return self._broker.model_api_of(token)

    async def auth(self) -> AccessToken:
        kept = self.fresh()
        return kept if kept is not None else await off_loop(self.fetch)

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """A refreshed token: past ``stale``, or past the one kept now."""
        if stale is None:
            kept = self.fresh()
            stale = kept.token if kept is not None else None
        return await off_loop(functools.partial(self.fetch, stale=stale))

    def status(self) -> Status | None:
        """What the broker hands out, described without the token; None when the broker
        has no login it can hand out (none, its session ended, unusable, refused)."""
        try:
            token = self.fetch()
        except SignInRequired:
            return None
        return Status(
            mode=token.mode,
            source=self.location,
            account_id=token.account_id,
            access_token_expires_at=token.expires_at,
        )

    def _due(self, token: AccessToken) -> datetime:
        now = self._clock.now()
        if token.expires_at is None:
            return now + UNTIMED_TOKEN_KEPT
        return token.expires_at - self._policy.margin(now, token.expires_at)
