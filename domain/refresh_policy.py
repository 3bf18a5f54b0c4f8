"""When stored ChatGPT tokens must be refreshed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from codex_login.domain.claims import token_times
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.tokens import TokenData

EXPIRY_MARGIN = timedelta(minutes=5)
MAX_TOKEN_AGE = timedelta(days=8)
# The seed refreshed only after 28 days; kept for embedders who want its behaviour.
SEED_MAX_TOKEN_AGE = timedelta(days=28)
# A forced refresh (a server refused the token) of tokens issued less than this long ago
# answers those tokens: a client that forces refreshes in a loop costs one refresh per
# window, not one per request, and a token just issued is not the one that is wrong.
MIN_TOKEN_AGE_FOR_FORCED_REFRESH = timedelta(seconds=5)
ALWAYS = datetime.min.replace(tzinfo=UTC)
NEVER = datetime.max.replace(tzinfo=UTC)


@attrs.frozen(repr=False)
class RefreshPolicy(FieldsRepr):
    """Refresh when the access token expires within ``expiry_margin``, or within half
    its lifetime (``exp - iat``) when that is shorter: a 60-second token is used for
    30 seconds, not refreshed on every call.

    When its expiry cannot be read (an opaque token), refresh once the last
    refresh is older than ``max_age`` or unknown.

    A forced refresh is refused while the tokens are younger than
    ``min_token_age_for_forced_refresh`` (``too_young_to_force``).
    """

    expiry_margin: timedelta = EXPIRY_MARGIN
    max_age: timedelta = MAX_TOKEN_AGE
    min_token_age_for_forced_refresh: timedelta = MIN_TOKEN_AGE_FOR_FORCED_REFRESH

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

    def too_young_to_force(
        self, tokens: TokenData, last_refresh: datetime | None, now: datetime
    ) -> bool:
        """Whether a forced refresh must answer ``tokens`` instead of posting: they were
        issued less than ``min_token_age_for_forced_refresh`` ago.

        Issued when ``last_refresh`` says (our own clock, at the commit), or the access
        token's ``iat`` (the issuer's); either within the window counts, on either side of
        ``now``, so clocks a little apart keep the guard. A time further in the future is
        a clock far off, not a new token: the guard then stays out of the way, as it does
        when neither time is known.
        """
        window = self.min_token_age_for_forced_refresh
        issued_at, _ = token_times(tokens.access_token)
        return any(abs(now - moment) < window for moment in (last_refresh, issued_at) if moment)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return NEVER if delta > timedelta(0) else ALWAYS
