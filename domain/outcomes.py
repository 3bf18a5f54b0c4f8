"""What each kind of failure means to a caller: `token`'s exit code, the broker's answer.

One table over the error tree (``domain/errors.py``), read four ways: the CLI's
exit code, the broker's HTTP status and error code, the broker client's way
back from that answer to an error (the inverse, ``failure_for``), and the code of
the CLI's ``--json`` error document (``code``: finer than the broker's, which
clients already read and which never change; a row without one says its error code). The broker and
its client live on two layers (entrypoints, adapters); this is the one module
both can read. A class takes the row of its nearest listed ancestor, so a new
error takes its group's outcome: "a person must sign in" is exit 4 and 401, "try
again" exit 1 and 503 with Retry-After, "fix the set-up" exit 1 and 500 ``misconfigured``,
anything else exit 1 and 500.
"""

from __future__ import annotations

import attrs

from codex_login.domain.errors import (
    AccessTokenRefused,
    AccountNotFound,
    BrokerUnreachable,
    CodexLoginError,
    ConfigurationError,
    CredentialsError,
    EmptyAccessToken,
    InvalidApiKey,
    InvalidJwt,
    IssuerMismatch,
    LockTimeout,
    LoginError,
    MalformedCredentials,
    NotLoggedIn,
    PolicyViolation,
    SessionEnded,
    SignInRequired,
    StorageError,
    TokenEndpointError,
    TransientTokenError,
    TryAgain,
    UnsupportedAuthMode,
    UntrustedPath,
    WorkloadIdentityChanged,
)
from codex_login.domain.fields_repr import FieldsRepr

EXIT_FAILURE = 1
# `token` only: no retry helps, a person must sign in; other commands exit 1 (`status`
# keeps the Codex CLI's codes).
EXIT_SIGN_IN = 4


@attrs.frozen(repr=False)
class Outcome(FieldsRepr):
    """How a failure ends `token` and what the broker answers for it."""

    exit_code: int
    http_status: int
    error_code: str
    # The `--json` error document's code (docs/json.md); the broker's error_code if None.
    # Not part of equality: two rows are the same outcome when callers see the same
    # exit code and broker answer.
    cli_code: str | None = attrs.field(default=None, eq=False)

    @property
    def code(self) -> str:
        """The code a `--json` error document carries."""
        return self.cli_code or self.error_code

    def finer(self, cli_code: str) -> Outcome:
        """The same exit code and broker answer, under a code of its own for the CLI."""
        return attrs.evolve(self, cli_code=cli_code)

    @property
    def retry_after(self) -> bool:
        """Whether the broker tells its client when to ask again."""
        return self.http_status == 503


_SIGN_IN, _UNAVAILABLE = 401, 503
_FAILED = Outcome(EXIT_FAILURE, 500, "broker_error")

# The first row for an error code is the class the broker client raises for it: the
# finer rows (a CLI code of their own, their group's broker answer) come last.
OUTCOMES: dict[type[CodexLoginError], Outcome] = {
    # A person must sign in (again).
    NotLoggedIn: Outcome(EXIT_SIGN_IN, _SIGN_IN, "not_logged_in", "login_required"),
    SessionEnded: Outcome(EXIT_SIGN_IN, _SIGN_IN, "session_ended"),
    PolicyViolation: Outcome(EXIT_SIGN_IN, _SIGN_IN, "policy_refused"),
    CredentialsError: Outcome(EXIT_SIGN_IN, _SIGN_IN, "login_unusable"),
    SignInRequired: Outcome(EXIT_SIGN_IN, _SIGN_IN, "sign_in_required"),
    # A later call may succeed.
    TransientTokenError: Outcome(EXIT_FAILURE, _UNAVAILABLE, "unavailable", "issuer_unreachable"),
    TryAgain: Outcome(EXIT_FAILURE, _UNAVAILABLE, "unavailable"),
    # Something to fix, or a refusal: neither a retry nor a new login is the answer.
    TokenEndpointError: _FAILED.finer("issuer_refused"),
    # The set-up (a setting, a path's owner or mode): named, so that the broker client
    # raises the same kind, not a refusal of the issuer's.
    ConfigurationError: Outcome(EXIT_FAILURE, 500, "misconfigured"),
    LoginError: _FAILED.finer("login_failed"),
    InvalidJwt: _FAILED.finer("invalid_jwt"),
    InvalidApiKey: _FAILED.finer("invalid_api_key"),
    CodexLoginError: _FAILED.finer("failed"),  # an error outside the tree (the demo's)
}
# Finer kinds for scripts: the CLI's code of their own, their group's broker answer.
_FINER: dict[type[CodexLoginError], tuple[type[CodexLoginError], str]] = {
    MalformedCredentials: (CredentialsError, "malformed_credentials"),
    UnsupportedAuthMode: (CredentialsError, "unsupported_login"),
    BrokerUnreachable: (TransientTokenError, "broker_unreachable"),
    StorageError: (TryAgain, "store_unavailable"),
    LockTimeout: (TryAgain, "lock_timeout"),
    UntrustedPath: (ConfigurationError, "untrusted_path"),
    IssuerMismatch: (ConfigurationError, "issuer_mismatch"),
    AccountNotFound: (ConfigurationError, "account_not_found"),
    WorkloadIdentityChanged: (SignInRequired, "identity_changed"),
    AccessTokenRefused: (SessionEnded, "access_token_refused"),
    EmptyAccessToken: (InvalidApiKey, "invalid_access_token"),
}
OUTCOMES |= {kind: OUTCOMES[group].finer(code) for kind, (group, code) in _FINER.items()}


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
