"""The one error hierarchy of codex-login.

Every error the library raises is a ``CodexLoginError``; adapters translate
foreign exceptions (``OSError``, aiohttp, authlib, cattrs) into these at the
boundary. Messages are one line, say what is wrong and what to do, and never
contain a secret.

    CodexLoginError
    ├── ConfigurationError          a setting (environment, option) is unusable
    │   ├── IssuerMismatch          the configured issuer is not the one that issued the login
    │   │   └── ForeignOverride     a URL override leads away from the login's issuer
    │   └── ForeignEndpoint         an issuer names an endpoint on another origin (mix-up)
    ├── CredentialsError            stored credentials cannot be used
    │   ├── MalformedCredentials    the credential file exists but is invalid
    │   ├── UnsupportedAuthMode     auth_mode written by a newer tool
    │   │   └── SignsRequests       an access token that signs requests: no bearer
    │   └── NotLoggedIn             nothing stored, no API key in the environment
    ├── StorageError                the store cannot be read or written
    │   ├── LockTimeout             another process holds the credential lock
    │   ├── UntrustedPath           a credential directory or file another user owns or can write
    │   └── LeaseLost               a lease expired or another writer committed first
    ├── PolicyViolation             the login-method or workspace policy forbids this login
    ├── InvalidJwt                  a token is not a decodable JWT
    ├── InvalidApiKey               a key given to login is unusable
    ├── LoginError                  the browser login did not complete
    │   ├── LoginCancelled
    │   ├── LoginTimedOut
    │   ├── CallbackPortUnavailable
    │   └── AuthorizationDenied     the issuer answered with an error
    └── TokenEndpointError          the issuer's token endpoint failed
        ├── TransientTokenError     network, timeout, 5xx: a later call may succeed
        └── SessionEnded            refresh token expired, reused or revoked: log in again
"""

from __future__ import annotations


class CodexLoginError(Exception):
    """Base of every error codex-login raises."""


class ConfigurationError(CodexLoginError):
    """A setting in the environment or on the command line is unusable."""


class IssuerMismatch(ConfigurationError):
    """The stored login was issued by another issuer than the one configured."""

    def __init__(self, *, stored: str, configured: str) -> None:
        super().__init__(
            f"the stored login was issued by {stored}, but the configured issuer is "
            f"{configured}; nothing was sent: unset CODEX_LOGIN_ISSUER (or --issuer) to use "
            f"the stored login, or run `codex-login login --issuer {configured}` to replace it"
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


class CredentialsError(CodexLoginError):
    """Stored credentials exist but cannot be used."""


class MalformedCredentials(CredentialsError):
    """The credential file exists but is not a valid auth.json."""

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(
            f"cannot use {location}: {problem}; fix it or run `codex-login login` to replace it"
        )
        self.location = location
        self.problem = problem


class UnsupportedAuthMode(CredentialsError):
    """The record's auth_mode is one this version does not know."""

    def __init__(self, mode: str) -> None:
        super().__init__(
            f"auth_mode {mode!r} is not supported by this version of codex-login; "
            "log in again with `codex-login login` or use the tool that wrote it"
        )
        self.mode = mode


class SignsRequests(UnsupportedAuthMode):
    """The login signs each request itself (an agent's access token): no bearer to send."""

    def __init__(self, mode: str, title: str) -> None:
        CredentialsError.__init__(
            self,
            f'this login is an {title} (auth_mode "{mode}"), which signs each request '
            "instead of sending a bearer token, so there is no token to hand out; use it "
            "with the Codex CLI, or run `codex-login login` for a login that has one",
        )
        self.mode = mode


class NotLoggedIn(CredentialsError):
    """No credentials are stored and no API key is in the environment."""

    def __init__(self, message: str = "not logged in; run `codex-login login`") -> None:
        super().__init__(message)


class StorageError(CodexLoginError):
    """The credential store cannot be read or written."""


class LockTimeout(StorageError):
    """Another process held the credential lock for too long."""


class UntrustedPath(StorageError):
    """A credential directory or file belongs to, or can be changed by, another user.

    Nothing was read, written or deleted there; the message names the path, its owner
    or mode, and the fix (``chmod``, ``chown``, another CODEX_HOME, or the opt-in for a
    directory mounted from a host).
    """


class LeaseLost(StorageError):
    """A store's lease expired, or another writer committed first: nothing was written."""


class PolicyViolation(CodexLoginError):
    """The login-method or workspace policy (config.toml, requirements.toml) forbids it.

    A new login is refused before anything is written; a stored login that breaks
    the policy is not handed out, and not deleted either.
    """


class InvalidJwt(CodexLoginError):
    """A token that should be a JWT cannot be decoded."""


class InvalidApiKey(CodexLoginError):
    """An API key given to login is empty or malformed."""


class LoginError(CodexLoginError):
    """The browser or device login did not complete."""


class LoginCancelled(LoginError):
    """The login was cancelled (Ctrl-C or a newer login took over the port)."""


class LoginTimedOut(LoginError):
    """No callback arrived in time."""


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


class TransientTokenError(TokenEndpointError):
    """Network trouble, a timeout or a server error; a later call may succeed."""


class SessionEnded(TokenEndpointError):
    """The refresh token is expired, reused or revoked: the user must log in again."""
