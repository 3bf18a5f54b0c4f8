"""One table from error kind to outcome: total, grouped by the caller's next step, and
read backwards by the broker client to the same kind."""

from __future__ import annotations

import inspect

import pytest

from codex_login.domain import errors
from codex_login.domain.errors import (
    AccountNotFound,
    CodexLoginError,
    SignInRequired,
    TryAgain,
)
from codex_login.domain.outcomes import (
    EXIT_FAILURE,
    EXIT_SIGN_IN,
    OUTCOMES,
    failure_for,
    outcome_of,
    row_of,
)

TREE = [
    kind
    for _, kind in inspect.getmembers(errors, inspect.isclass)
    if issubclass(kind, CodexLoginError) and kind is not CodexLoginError
]


def every_subclass(kind: type[CodexLoginError]) -> set[type[CodexLoginError]]:
    found = set(kind.__subclasses__())
    for sub in kind.__subclasses__():
        found |= every_subclass(sub)
    return found


def test_every_product_error_has_a_row_of_its_group() -> None:
    """Walking the subclasses: no error of the product falls through to the catch-all
    (a new group under CodexLoginError must say what its caller does next)."""
    product = [
        kind
        for kind in every_subclass(CodexLoginError)
        if kind.__module__.startswith(("codex_login.domain", "codex_login.application"))
        or kind.__module__.startswith(("codex_login.adapters", "codex_login.entrypoints"))
    ]
    assert set(TREE) <= set(product)
    assert AccountNotFound in product
    assert [kind for kind in product if row_of(kind) is CodexLoginError] == []


@pytest.mark.parametrize("kind", TREE, ids=lambda kind: kind.__name__)
def test_every_error_has_an_exit_code_and_an_http_status(kind: type[CodexLoginError]) -> None:
    row = row_of(kind)
    assert row is not CodexLoginError, f"{kind.__name__} falls through to the catch-all"
    outcome = OUTCOMES[row]
    assert outcome.exit_code in (EXIT_FAILURE, EXIT_SIGN_IN)
    assert outcome.http_status in (401, 500, 503)
    assert outcome.error_code


@pytest.mark.parametrize("kind", [*TREE, AccountNotFound], ids=lambda kind: kind.__name__)
def test_the_outcome_follows_what_the_caller_does_next(kind: type[CodexLoginError]) -> None:
    outcome = OUTCOMES[row_of(kind)]
    sign_in, again = issubclass(kind, SignInRequired), issubclass(kind, TryAgain)
    assert (outcome.exit_code == EXIT_SIGN_IN) is sign_in
    assert (outcome.http_status == 401) is sign_in
    assert (outcome.http_status == 503) is again
    assert outcome.retry_after is again


@pytest.mark.parametrize("kind", TREE, ids=lambda kind: kind.__name__)
def test_the_broker_clients_way_back_lands_on_the_same_outcome(
    kind: type[CodexLoginError],
) -> None:
    outcome = OUTCOMES[row_of(kind)]
    back = failure_for(outcome.http_status, outcome.error_code)
    assert back is not None
    assert OUTCOMES[row_of(back)] == outcome


def test_answers_of_no_row_fall_back_by_status() -> None:
    assert failure_for(401, "something_new") is errors.NotLoggedIn
    assert failure_for(503, "timeout") is errors.TransientTokenError
    assert failure_for(400, "bad_request") is None


def test_a_malformed_file_is_a_sign_in_not_a_retry() -> None:
    outcome = outcome_of(errors.MalformedCredentials("auth.json", "not JSON"))
    assert (outcome.exit_code, outcome.http_status) == (EXIT_SIGN_IN, 401)


def test_an_untrusted_path_is_a_set_up_to_fix_not_a_retry() -> None:
    """A path another user owns stays refused however often one asks: a person must fix
    its owner or mode, or name the owner to trust (issue 21, item 3)."""
    error = errors.UntrustedPath("refusing to use /x/auth.json: it belongs to uid 4242")
    assert isinstance(error, errors.ConfigurationError)
    assert not isinstance(error, TryAgain)
    outcome = outcome_of(error)
    assert (outcome.exit_code, outcome.http_status, outcome.retry_after) == (1, 500, False)
    assert failure_for(outcome.http_status, outcome.error_code) is errors.ConfigurationError


# Scripts read both: the broker's answer (its clients, since the broker shipped) and the
# CLI's `--json` error code (docs/json.md). Neither changes without a new version.
STABLE = {
    "AccountNotFound": (1, 500, "misconfigured", "account_not_found"),
    "AmbiguousAccount": (1, 500, "misconfigured", "account_not_found"),
    "AnotherLoginStored": (1, 500, "misconfigured", "misconfigured"),
    "AuthorizationDenied": (1, 500, "broker_error", "login_failed"),
    "BrokerUnreachable": (1, 503, "unavailable", "broker_unreachable"),
    "CallbackPortUnavailable": (1, 500, "broker_error", "login_failed"),
    "CodexLoginError": (1, 500, "broker_error", "failed"),
    "ConfigurationError": (1, 500, "misconfigured", "misconfigured"),
    "CredentialsError": (4, 401, "login_unusable", "login_unusable"),
    "EmptyApiKey": (1, 500, "broker_error", "invalid_api_key"),
    "ClientIdRequired": (1, 500, "misconfigured", "misconfigured"),
    "HostManagedLogin": (1, 500, "misconfigured", "misconfigured"),
    "ForeignEndpoint": (1, 500, "misconfigured", "misconfigured"),
    "ForeignOverride": (1, 500, "misconfigured", "issuer_mismatch"),
    "InvalidApiKey": (1, 500, "broker_error", "invalid_api_key"),
    "InvalidJwt": (1, 500, "broker_error", "invalid_jwt"),
    "IssuerMismatch": (1, 500, "misconfigured", "issuer_mismatch"),
    "LeaseLost": (1, 503, "unavailable", "store_unavailable"),
    "LockTimeout": (1, 503, "unavailable", "lock_timeout"),
    "LoginKept": (1, 503, "unavailable", "store_unavailable"),
    "LoginCancelled": (1, 500, "broker_error", "login_failed"),
    "LoginError": (1, 500, "broker_error", "login_failed"),
    "LoginTimedOut": (1, 500, "broker_error", "login_failed"),
    "MalformedCredentials": (4, 401, "login_unusable", "malformed_credentials"),
    "NotLoggedIn": (4, 401, "not_logged_in", "login_required"),
    "PolicyViolation": (4, 401, "policy_refused", "policy_refused"),
    "SessionEnded": (4, 401, "session_ended", "session_ended"),
    "SignInRequired": (4, 401, "sign_in_required", "sign_in_required"),
    "SignsRequests": (4, 401, "login_unusable", "unsupported_login"),
    "SigningTokenInEnvironment": (4, 401, "login_unusable", "unsupported_login"),
    "StorageError": (1, 503, "unavailable", "store_unavailable"),
    "TokenEndpointError": (1, 500, "broker_error", "issuer_refused"),
    "TokensUnsaved": (1, 503, "unavailable", "store_unavailable"),
    "TransientTokenError": (1, 503, "unavailable", "issuer_unreachable"),
    "TryAgain": (1, 503, "unavailable", "unavailable"),
    "UnreadableAccount": (4, 401, "login_unusable", "malformed_credentials"),
    "UnsupportedAuthMode": (4, 401, "login_unusable", "unsupported_login"),
    "UntrustedPath": (1, 500, "misconfigured", "untrusted_path"),
    "WorkloadIdentityChanged": (4, 401, "sign_in_required", "identity_changed"),
    "AccessTokenRefused": (4, 401, "session_ended", "access_token_refused"),
    "EmptyAccessToken": (1, 500, "broker_error", "invalid_access_token"),
    "WorkspaceRefused": (4, 401, "policy_refused", "policy_refused"),
    "WorkloadIdentityRefused": (4, 401, "policy_refused", "policy_refused"),
}


@pytest.mark.parametrize("name", sorted(STABLE))
def test_the_exit_code_the_broker_answer_and_the_json_code_are_stable(name: str) -> None:
    outcome = OUTCOMES[row_of(getattr(errors, name))]
    assert (outcome.exit_code, outcome.http_status, outcome.error_code, outcome.code) == (
        STABLE[name]
    )


def test_every_error_of_the_tree_has_a_stable_row() -> None:
    assert {kind.__name__ for kind in TREE} | {"CodexLoginError"} == set(STABLE)


def test_the_codes_scripts_are_promised_are_the_trees() -> None:
    """Issue 26: at least these codes, each for its kind; login_required exits 4."""
    promised = {
        "login_required": errors.NotLoggedIn,
        "session_ended": errors.SessionEnded,
        "policy_refused": errors.PolicyViolation,
        "issuer_unreachable": errors.TransientTokenError,
        "store_unavailable": errors.StorageError,
        "malformed_credentials": errors.MalformedCredentials,
        "lock_timeout": errors.LockTimeout,
        "unsupported_login": errors.UnsupportedAuthMode,
    }
    assert {code: OUTCOMES[row_of(kind)].code for code, kind in promised.items()} == {
        code: code for code in promised
    }
    assert OUTCOMES[row_of(errors.NotLoggedIn)].exit_code == EXIT_SIGN_IN
