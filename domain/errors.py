"""The one error hierarchy of codex-login, grouped by what the caller does next.

Every error the library raises is a ``CodexLoginError``; adapters translate
foreign exceptions (``OSError``, aiohttp, authlib, cattrs) into these at the
boundary. Messages are one line, say what happened, and never contain a secret.
They name no command: the edge that knows its user adds the remedy (the CLI its
own command, the broker "on the host": ``entrypoints/remedies.py``; an embedder
decides what to tell its user). The CLI's exit codes, the broker's HTTP statuses and
error codes, and the broker client's way back are one table over these classes
(``domain/outcomes.py``).

    CodexLoginError
    ├── SignInRequired              a person must sign in (again): no retry helps
    │   ├── CredentialsError        the stored login cannot be used
    │   │   ├── NotLoggedIn         nothing stored, no API key in the environment
    │   │   ├── MalformedCredentials  the credential file exists but is invalid
    │   │   │   └── UnreadableAccount  an inactive account's slot holds such a file
    │   │   └── UnsupportedAuthMode auth_mode written by a newer tool
    │   │       └── SignsRequests   an access token that signs requests: no bearer
    │   │           └── SigningTokenInEnvironment  CODEX_ACCESS_TOKEN holds such a token
    │   ├── SessionEnded            refresh token expired, reused or revoked (a TokenEndpointError)
    │   │   └── AccessTokenRefused  whoami refused an access token (revoked, expired, unknown)
    │   ├── WorkloadIdentityChanged an identity-token exchange signed in someone else
    │   └── PolicyViolation         the login-method or workspace policy forbids this login
    │       ├── WorkspaceRefused    a stored login of a workspace the policy does not allow
    │       └── WorkloadIdentityRefused  the policy refuses what a workload identity signs in
    ├── TryAgain                    a later call may succeed
    │   ├── TransientTokenError     issuer unreachable: network, timeout, 5xx (a TokenEndpointError)
    │   │   └── BrokerUnreachable   no token broker listens at the address
    │   └── StorageError            the store cannot be read or written now
    │       ├── LockTimeout         another process holds the credential lock
    │       ├── LeaseLost           a lease expired or another writer committed first
    │       ├── LoginKept           a logout kept a login it could not read (nor revoke)
    │       └── TokensUnsaved       rotated tokens the store refused: only in this process
    ├── ConfigurationError          fix the set-up (environment, option, files), then run again
    │   ├── UntrustedPath           a credential directory or file another user owns or can write
    │   ├── IssuerMismatch          the configured issuer is not the one that issued the login
    │   │   └── ForeignOverride     a URL override leads away from the login's issuer
    │   ├── ForeignEndpoint         an issuer names an endpoint on another origin (mix-up)
    │   ├── ClientIdRequired        a login at another issuer needs that issuer's client id
    │   ├── HostManagedLogin        a workload identity, the host's: no logout here
    │   ├── AnotherLoginStored      an import would replace a different login
    │   └── AccountNotFound         no stored account matches the name asked for
    │       └── AmbiguousAccount    more than one does
    ├── InvalidJwt                  a token is not a decodable JWT
    ├── InvalidApiKey               a key given to login is unusable
    │   └── EmptyApiKey             no key was given at all
    │       └── EmptyAccessToken    no access token was given at all
    ├── LoginError                  the browser login did not complete
    │   ├── LoginCancelled
    │   ├── LoginTimedOut
    │   ├── CallbackPortUnavailable
    │   └── AuthorizationDenied     the issuer answered with an error
    └── TokenEndpointError          the issuer's token endpoint refused (status, error_code);
                                    SessionEnded and TransientTokenError are its kinds too
"""

from __future__ import annotations


class CodexLoginError(Exception):
    """Base of every error codex-login raises."""


class SignInRequired(CodexLoginError):
    """A person must sign in (again): no retry of the same call helps."""


class TryAgain(CodexLoginError):
    """Something was unavailable for now (the issuer, the store, the lock): a later call
    may succeed."""


class ConfigurationError(CodexLoginError):
    """A setting in the environment or on the command line is unusable."""


class UntrustedPath(ConfigurationError):
    """A credential directory or file belongs to, or can be changed by, another user.

    Nothing was read, written or deleted there; the message names the path, its owner
    or mode, and the fix (``chmod``, ``chown``, another CODEX_HOME, or the opt-in for a
    directory mounted from a host). No retry cures it, and a new login would be refused
    there too: a person must fix the set-up, so it is a ConfigurationError.
    """


class AccountNotFound(ConfigurationError):
    """No account, or more than one, matches what was asked for."""


class AmbiguousAccount(AccountNotFound):
    """More than one account matches what was asked for; the message names them."""


class IssuerMismatch(ConfigurationError):
    """The stored login was issued by another issuer than the one configured."""

    def __init__(self, *, stored: str, configured: str) -> None:
        super().__init__(
            f"the stored login was issued by {stored}, but the configured issuer is "
            f"{configured}; nothing was sent"
        )
        self.stored = stored
        self.configured = configured


class ForeignOverride(IssuerMismatch):
    """A URL override (``CODEX_REFRESH_TOKEN_URL_OVERRIDE``...) is not on the issuer's origin.

    The Codex CLI's overrides move an endpoint within the issuer; one that leads
    elsewhere would hand that host the login's tokens, so nothing is sent.
    """

    def __init__(self, *, variable: str, url: str, issuer: str) -> None:
        ConfigurationError.__init__(
            self,
            f"{variable} sends the login's token to {url}, which is not on the origin of "
            f"{issuer}, the issuer of this login; nothing was sent: unset {variable}, or "
            f"point it at {issuer}",
        )
        self.stored = issuer
        self.configured = url
        self.variable = variable


class ClientIdRequired(ConfigurationError):
    """A new login at an issuer other than OpenAI's was about to use OpenAI's client id:
    with it and the one shared redirect URI, that issuer could send the browser to
    OpenAI's sign-in page and collect the code. Name that issuer's own client id."""

    def __init__(self, issuer: str, default_issuer: str) -> None:
        super().__init__(
            f"a login at {issuer} needs that issuer's own client id; OpenAI's is used only "
            f"for {default_issuer}"
        )
        self.issuer = issuer


class HostManagedLogin(ConfigurationError):
    """A logout while a workload identity is configured: that login is the host's (the
    Codex CLI's words), and the stored one is left as it is."""

    def __init__(self) -> None:
        super().__init__("workload identity auth is managed by the host and cannot be logged out")


class ForeignEndpoint(ConfigurationError):
    """An issuer named an endpoint (or a page for the user) on another origin than its own.

    That is how an OAuth mix-up starts (RFC 9700 §4.4): one issuer's metadata
    names another's sign-in page and its own token endpoint, and collects the
    code. Refused unless the user trusts that origin by name.
    """

    def __init__(self, *, issuer: str, what: str, url: str, origin: str, setting: str) -> None:
        super().__init__(
            f"the issuer {issuer} names its {what} {url}, on another origin ({origin}); "
            f"refusing it, nothing was sent there (an OAuth mix-up defence): check the issuer "
            f"URL, or, if you trust {origin}, add it to {setting}"
        )
        self.issuer = issuer
        self.url = url
        self.origin = origin


class AnotherLoginStored(ConfigurationError):
    """The target store holds a different login, which an import would discard unrevoked."""


class CredentialsError(SignInRequired):
    """Stored credentials exist but cannot be used."""


class MalformedCredentials(CredentialsError):
    """The credential file exists but is not a valid auth.json."""

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(f"cannot use {location}: {problem}")
        self.location = location
        self.problem = problem


class UnreadableAccount(MalformedCredentials):
    """An inactive account's slot holds a record that cannot be read; ``name`` is the
    account's (its logout removes the slot)."""

    def __init__(self, name: str, location: str, problem: str) -> None:
        super().__init__(location, problem)
        self.name = name


class UnsupportedAuthMode(CredentialsError):
    """The record's auth_mode is one this version does not know."""

    def __init__(self, mode: str) -> None:
        super().__init__(f"auth_mode {mode!r} is not supported by this version of codex-login")
        self.mode = mode


# What a login that signs its own requests lacks, said the same for a stored one and the
# environment's.
_SIGNS = (
    "which signs each request instead of sending a bearer token, so there is no token to hand out"
)


class SignsRequests(UnsupportedAuthMode):
    """The login signs each request itself (an agent's access token): no bearer to send."""

    def __init__(self, mode: str, title: str) -> None:
        CredentialsError.__init__(self, f'this login is an {title} (auth_mode "{mode}"), {_SIGNS}')
        self.mode = mode


class SigningTokenInEnvironment(SignsRequests):
    """The environment's access token (``variable``) signs requests: it wins over any
    stored login, so only unsetting it lets one be used."""

    def __init__(self, mode: str, title: str, variable: str) -> None:
        CredentialsError.__init__(
            self, f'{variable} holds an {title} (auth_mode "{mode}"), {_SIGNS}'
        )
        self.mode = mode
        self.variable = variable


class NotLoggedIn(CredentialsError):
    """No credentials are stored and no API key is in the environment."""

    def __init__(self, message: str = "not logged in") -> None:
        super().__init__(message)


class StorageError(TryAgain):
    """The credential store cannot be read or written."""


class LockTimeout(StorageError):
    """Another process held the credential lock for too long."""


class LeaseLost(StorageError):
    """A store's lease expired, or another writer committed first: nothing was written."""


class LoginKept(StorageError):
    """A logout that revokes found a record it cannot read now (a permission, an I/O
    error): it may hold a sound login, which deleted unread could never be revoked, so
    nothing was revoked or deleted."""


class TokensUnsaved(StorageError):
    """The issuer rotated the tokens, but the store could not save them (after a few
    tries): the stored refresh token is probably spent, and the new tokens live only in
    this process, which saves them at its next refresh. A process that ends loses them."""


class PolicyViolation(SignInRequired):
    """The login-method or workspace policy (config.toml, requirements.toml) forbids it.

    A new login is refused before anything is written; a stored login that breaks
    the policy is not handed out, and not deleted either.
    """


class WorkspaceRefused(PolicyViolation):
    """A stored ChatGPT login names no workspace, or one the policy does not allow: a
    login in an allowed workspace replaces it."""


class WorkloadIdentityRefused(PolicyViolation):
    """The login policy refuses the login a workload identity makes (ChatGPT logins not
    allowed, or its workspace not among the allowed ones). No sign-in helps: a workload
    identity wins over any stored login; the rule or the policy must change."""


class InvalidJwt(CodexLoginError):
    """A token that should be a JWT cannot be decoded."""


class InvalidApiKey(CodexLoginError):
    """An API key given to login is empty or malformed."""


class EmptyApiKey(InvalidApiKey):
    """The API key given to login is empty (nothing piped in, nothing typed)."""


class EmptyAccessToken(EmptyApiKey):
    """The access token given to login is empty (nothing piped in, nothing typed)."""


class LoginError(CodexLoginError):
    """The browser or device login did not complete."""


class LoginCancelled(LoginError):
    """The login was cancelled (Ctrl-C or a newer login took over the port)."""


class LoginTimedOut(LoginError):
    """The login did not finish in time: no callback arrived, or the device code was
    not approved."""


class CallbackPortUnavailable(LoginError):
    """No loopback port could be bound for the callback server."""


class AuthorizationDenied(LoginError):
    """The issuer redirected back with an error instead of a code."""

    def __init__(self, error: str, description: str | None) -> None:
        detail = f"{error}: {description}" if description else error
        super().__init__(f"the sign-in was refused by the issuer ({detail})")
        self.error = error
        self.description = description


class TokenEndpointError(CodexLoginError):
    """The issuer's token endpoint did not give usable tokens."""

    def __init__(
        self, message: str, *, status: int | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class TransientTokenError(TryAgain, TokenEndpointError):
    """Network trouble, a timeout or a server error; a later call may succeed."""


class SessionEnded(SignInRequired, TokenEndpointError):
    """The refresh token is expired, reused or revoked: the user must log in again."""


class WorkloadIdentityChanged(SignInRequired):
    """A workload-identity exchange answered for another user, workspace or membership
    than the process's first one: its token is not handed out, and no retry helps (the
    federation rule or the identity token changed under a running process)."""


class AccessTokenRefused(SessionEnded):
    """Whoami refused an access token (401, 403): revoked, expired or never issued."""


class BrokerUnreachable(TransientTokenError):
    """No token broker listens at the address (no socket, or refused)."""
