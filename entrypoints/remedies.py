"""What to do about a failure, said once, by the edge that knows its user.

The messages of domain/, application/ and adapters/ say what happened; an embedder
decides what to tell its own user. The CLI adds its own command (``with_remedy``),
the broker the same words "on the host" (``on_the_host``), where a person can run it;
``token --broker`` relays the broker's words and adds only its own (SANDBOX).
A class takes the remedy of its nearest listed class; "" says nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping

from codex_login.domain.errors import (
    AccessTokenRefused,
    AccountNotFound,
    AmbiguousAccount,
    AnotherLoginStored,
    BrokerUnreachable,
    ClientIdRequired,
    CodexLoginError,
    EmptyAccessToken,
    EmptyApiKey,
    ForeignOverride,
    HostManagedLogin,
    IssuerMismatch,
    LoginKept,
    LoginTimedOut,
    MalformedCredentials,
    NotLoggedIn,
    SessionEnded,
    SigningTokenInEnvironment,
    SignInRequired,
    SignsRequests,
    UnreadableAccount,
    UnsupportedAuthMode,
    WorkloadIdentityRefused,
    WorkspaceRefused,
)

SIGN_IN = "run `codex-login login`"
LOGIN = "codex-login login"

# Format strings: ``{exc}`` is the error (its fields, never its message), ``{login}``
# the login command the user ran (``codex-login login --device-auth``). A remedy in
# parentheses follows the message; a sentence follows a sentence; else after "; ".
REMEDIES: dict[type[CodexLoginError], str] = {
    NotLoggedIn: SIGN_IN,
    AccessTokenRefused: "run `codex-login login --with-access-token` with a new one",
    SessionEnded: f"{SIGN_IN} to sign in again",
    MalformedCredentials: f"fix it or {SIGN_IN} to replace it",
    # A login of the active store would leave the slot as it is.
    UnreadableAccount: "fix it or run `codex-login logout --account {exc.name}` to remove it",
    SignsRequests: f"use it with the Codex CLI, or {SIGN_IN} for a login that has one",
    # It wins over any stored login: a new login would change nothing.
    SigningTokenInEnvironment: (
        "use it with the Codex CLI, or unset {exc.variable} to use a stored login"
    ),
    UnsupportedAuthMode: "log in again with `codex-login login` or use the tool that wrote it",
    WorkspaceRefused: "log in again with `codex-login login`",
    # It wins over any stored login: a login would change nothing.
    WorkloadIdentityRefused: (
        "change the federation rule (OPENAI_FEDERATION_RULE_ID) or the login policy "
        "(config.toml, requirements.toml)"
    ),
    ForeignOverride: "",  # its message names the variable to unset
    # Only `login` has --issuer, and a login replaces the stored one: every other
    # command's explicit issuer is CODEX_LOGIN_ISSUER.
    IssuerMismatch: (
        "unset CODEX_LOGIN_ISSUER to use the stored login, or run "
        "`codex-login login --issuer {exc.configured}` to replace it"
    ),
    LoginTimedOut: "run `{login}` again",
    ClientIdRequired: "pass --client-id (or set CODEX_LOGIN_CLIENT_ID)",
    HostManagedLogin: (
        "unset OPENAI_FEDERATION_RULE_ID and the identity token's variables to act on the "
        "stored login"
    ),
    EmptyAccessToken: (
        "pipe it in: printenv CODEX_ACCESS_TOKEN | codex-login login --with-access-token"
    ),
    EmptyApiKey: "pipe it in: printenv OPENAI_API_KEY | codex-login login --with-api-key",
    AnotherLoginStored: "run `codex-login logout` there first, or pass --force to replace it",
    AccountNotFound: "(see `codex-login accounts`)",
    LoginKept: "make it readable, or run `codex-login logout --local` to delete it unrevoked",
    AmbiguousAccount: "",  # its message names the accounts to choose from
}
# `token --broker`: the broker's answers carry their remedy, to run on the host.
SANDBOX: dict[type[CodexLoginError], str] = {
    BrokerUnreachable: "start `codex-login serve` on the host, or fix CODEX_LOGIN_BROKER",
}


def remedy(
    error: CodexLoginError,
    *,
    login: str = LOGIN,
    table: dict[type[CodexLoginError], str] = REMEDIES,
) -> str:
    """The CLI's words for what to do next; "" when the message says it all."""
    kind = next((cls for cls in type(error).__mro__ if cls in table), None)
    return "" if kind is None else table[kind].format(exc=error, login=login)


def with_remedy(
    error: CodexLoginError,
    *,
    login: str = LOGIN,
    brokered: bool = False,
    own: Mapping[type[CodexLoginError], str] | None = None,
) -> str:
    """The error's message and, once, what to run about it (``brokered``: in a sandbox,
    where the broker said its own; ``own``: a command's words, first)."""
    return joined(str(error), remedy(error, login=login, table=table_for(brokered, own)))


def of_account(error: CodexLoginError, account: str | None) -> CodexLoginError:
    """``error`` as said for a command run on ``account`` (``--account NAME``): a record
    it could not read is that account's slot, whose remedy removes the slot rather than
    replacing the active login."""
    if account and type(error) is MalformedCredentials:
        return UnreadableAccount(account, error.location, error.problem)
    return error


def table_for(
    brokered: bool, own: Mapping[type[CodexLoginError], str] | None = None
) -> dict[type[CodexLoginError], str]:
    """The remedies a command's failure is said with: its own where it has one."""
    base = SANDBOX if brokered else REMEDIES
    return {**base, **own} if own else base


def on_the_host(message: str, error: CodexLoginError) -> str:
    """A broker's message for a sandbox: what to run, on the host, where a person can."""
    said = remedy(error)
    if not said and isinstance(error, SignInRequired):
        said = SIGN_IN
    return joined(message, f"on the host, {said}" if said else "")


def joined(message: str, remedy: str) -> str:
    """``what happened; what to do``, or a sentence after a sentence."""
    if not remedy:
        return message
    if remedy.startswith("("):
        return f"{message} {remedy}"
    if message.endswith("."):
        return f"{message} {remedy[0].upper()}{remedy[1:]}."
    return f"{message}; {remedy}"
