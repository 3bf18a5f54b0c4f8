"""When stored ChatGPT tokens must be refreshed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from codex_login.domain.claims import token_times
from codex_login.domain.tokens import TokenData

EXPIRY_MARGIN = timedelta(minutes=5)
MAX_TOKEN_AGE = timedelta(days=8)
# The seed refreshed only after 28 days; kept for embedders who want its behaviour.
SEED_MAX_TOKEN_AGE = timedelta(days=28)
ALWAYS = datetime.min.replace(tzinfo=UTC)
NEVER = datetime.max.replace(tzinfo=UTC)


@attrs.frozen
class RefreshPolicy:
    """Refresh when the access token expires within ``expiry_margin``, or within half
    its lifetime (``exp - iat``) when that is shorter: a 60-second token is used for
    30 seconds, not refreshed on every call.

    When its expiry cannot be read (an opaque token), refresh once the last
    refresh is older than ``max_age`` or unknown.
    """

    expiry_margin: timedelta = EXPIRY_MARGIN
    max_age: timedelta = MAX_TOKEN_AGE

    def margin(self, issued_at: datetime | None, expires_at: datetime) -> timedelta:
        """How long before ``expires_at`` a refresh is due."""
        if issued_at is None or issued_at >= expires_at:
            return self.expiry_margin
        return min(self.expiry_margin, (expires_at - issued_at) / 2)

    def due_at(self, tokens: TokenData, last_refresh: datetime | None) -> datetime:
        """The first moment at which a refresh is due."""
        issued_at, expires_at = token_times(tokens.access_token)
        if expires_at is not None:
            return _shifted(expires_at, -self.margin(issued_at, expires_at))
        if last_refresh is None:
            return ALWAYS
        return _shifted(last_refresh, self.max_age)

    def is_due(self, tokens: TokenData, last_refresh: datetime | None, now: datetime) -> bool:
        return now >= self.due_at(tokens, last_refresh)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return NEVER if delta > timedelta(0) else ALWAYS
