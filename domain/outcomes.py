"""What each kind of failure means to a caller: `token`'s exit code, the broker's answer.

One table over the error tree (``domain/errors.py``), read three ways: the CLI's
exit code, the broker's HTTP status and error code, and the broker client's way
back from that answer to an error (the inverse, ``failure_for``). The broker and
its client live on two layers (entrypoints, adapters); this is the one module
both can read. A class takes the row of its nearest listed ancestor, so a new
error takes its group's outcome: "a person must sign in" is exit 4 and 401, "try
again" exit 1 and 503 with Retry-After, "fix the set-up" exit 1 and 500 ``misconfigured``,
anything else exit 1 and 500.
"""

from __future__ import annotations

import attrs

from codex_login.domain.errors import (
    CodexLoginError,
    ConfigurationError,
    CredentialsError,
    InvalidApiKey,
    InvalidJwt,
    LoginError,
    NotLoggedIn,
    PolicyViolation,
    SessionEnded,
    SignInRequired,
    TokenEndpointError,
    TransientTokenError,
    TryAgain,
)

EXIT_FAILURE = 1
# `token` only: no retry helps, a person must sign in; other commands exit 1 (`status`
# keeps the Codex CLI's codes).
EXIT_SIGN_IN = 4


@attrs.frozen
class Outcome:
    """How a failure ends `token` and what the broker answers for it."""

    exit_code: int
    http_status: int
    error_code: str

    @property
    def retry_after(self) -> bool:
        """Whether the broker tells its client when to ask again."""
        return self.http_status == 503


_SIGN_IN, _UNAVAILABLE = 401, 503
_FAILED = Outcome(EXIT_FAILURE, 500, "broker_error")

# The first row for an error code is the class the broker client raises for it.
OUTCOMES: dict[type[CodexLoginError], Outcome] = {
    # A person must sign in (again).
    NotLoggedIn: Outcome(EXIT_SIGN_IN, _SIGN_IN, "not_logged_in"),
    SessionEnded: Outcome(EXIT_SIGN_IN, _SIGN_IN, "session_ended"),
    PolicyViolation: Outcome(EXIT_SIGN_IN, _SIGN_IN, "policy_refused"),
    CredentialsError: Outcome(EXIT_SIGN_IN, _SIGN_IN, "login_unusable"),
    SignInRequired: Outcome(EXIT_SIGN_IN, _SIGN_IN, "sign_in_required"),
    # A later call may succeed.
    TransientTokenError: Outcome(EXIT_FAILURE, _UNAVAILABLE, "unavailable"),
    TryAgain: Outcome(EXIT_FAILURE, _UNAVAILABLE, "unavailable"),
    # Something to fix, or a refusal: neither a retry nor a new login is the answer.
    TokenEndpointError: _FAILED,
    # The set-up (a setting, a path's owner or mode): named, so that the broker client
    # raises the same kind, not a refusal of the issuer's.
    ConfigurationError: Outcome(EXIT_FAILURE, 500, "misconfigured"),
    LoginError: _FAILED,
    InvalidJwt: _FAILED,
    InvalidApiKey: _FAILED,
    CodexLoginError: _FAILED,  # an error outside the tree (the demo's): a failure
}


def outcome_of(error: CodexLoginError) -> Outcome:
    """The row of the error's nearest listed class."""
    return OUTCOMES[row_of(type(error))]


def row_of(kind: type[CodexLoginError]) -> type[CodexLoginError]:
    """The nearest class of ``kind`` (itself included) that has a row."""
    return next(cls for cls in kind.__mro__ if cls in OUTCOMES)


def failure_for(http_status: int, error_code: str | None) -> type[CodexLoginError] | None:
    """The inverse: the class a broker's answer stands for, or None for an answer that is
    no row's (a refusal, a bad request). By error code, else by status."""
    for kind, outcome in OUTCOMES.items():
        if (outcome.http_status, outcome.error_code) == (http_status, error_code):
            return kind
    if http_status in (_SIGN_IN, _UNAVAILABLE):
        return next(kind for kind, row in OUTCOMES.items() if row.http_status == http_status)
    return None
