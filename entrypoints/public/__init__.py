"""codex-login: sign in with ChatGPT or an OpenAI API key, and hand out valid tokens.

This file is installed as ``codex_login/__init__.py``: the one import an
embedding program needs. Names load when first used, so importing one layer
(or running the CLI) never pays for the rest::

    from codex_login import CodexAuth

    auth = CodexAuth()  # $CODEX_HOME/auth.json (~/.codex), shared with the Codex CLI
    headers = {"Authorization": auth.auth().authorization}  # refreshed first when due

``codex_login.aio.CodexAuth`` has the same methods as coroutines (also importable
here as ``AsyncCodexAuth``). ``CodexHttpxAuth`` and ``CodexRequestsAuth`` plug a
login into httpx (and so the openai SDK) and requests; ``openai_client()`` is an
``openai.OpenAI`` signed by the login and pointing at its model API (``ModelApi``:
``auth.model_api()``); each needs its extra (``codex-login[httpx]``,
``codex-login[requests]``, ``codex-login[openai]``) and says so when it is missing.
Every error is a ``CodexLoginError``, grouped by what to do next: a ``SignInRequired``
(``NotLoggedIn``, ``SessionEnded``, ``CredentialsError``, ``PolicyViolation``) means a
person must log in, a ``TryAgain`` (``TransientTokenError``, ``StorageError``) that a
later call may succeed, a ``ConfigurationError`` that a setting or a file's owner must be
fixed. Messages say what happened; what to tell your user is yours.

Stores and their ports are in ``codex_login.stores``, policies in
``codex_login.policy``. ``bootstrap`` and ``AuthService`` (the composition root) and
the stores, ports and policies once found here still load from here for one release,
with a DeprecationWarning naming their new place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login._lazy import MissingExtra, exports

if TYPE_CHECKING:
    from codex_login.application.logout import LogoutResult
    from codex_login.application.signin import LoginOutcome
    from codex_login.application.status import Status
    from codex_login.domain.accounts import Account
    from codex_login.domain.device import DeviceCode
    from codex_login.domain.errors import (
        CodexLoginError,
        ConfigurationError,
        CredentialsError,
        IssuerMismatch,
        LoginError,
        LoginTimedOut,
        NotLoggedIn,
        PolicyViolation,
        SessionEnded,
        SignInRequired,
        StorageError,
        TokenEndpointError,
        TransientTokenError,
        TryAgain,
    )
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.modes import AuthMode
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.tokens import AccessToken
    from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
    from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
    from codex_login.entrypoints.openai_client import openai_client
    from codex_login.entrypoints.requests_auth import CodexRequestsAuth

    __version__: str

    # Deprecated here (see _MOVED), still typed for one release.
    from codex_login.adapters.file_store import FileCredentialStore as FileCredentialStore
    from codex_login.adapters.keyring_store import (
        KeyringCredentialStore as KeyringCredentialStore,
    )
    from codex_login.adapters.memory_store import MemoryCredentialStore as MemoryCredentialStore
    from codex_login.application.service import AuthService as AuthService
    from codex_login.domain.login_policy import LoginMethod as LoginMethod
    from codex_login.domain.login_policy import LoginPolicy as LoginPolicy
    from codex_login.domain.ports import Clock as Clock
    from codex_login.domain.ports import CredentialStore as CredentialStore
    from codex_login.entrypoints.bootstrap import bootstrap as bootstrap

_ERRORS = "codex_login.domain.errors"
_WHERE = {
    "CodexAuth": "codex_login.entrypoints.embedding",
    "AsyncCodexAuth": "codex_login.entrypoints.embedding",
    "CodexHttpxAuth": "codex_login.entrypoints.httpx_auth",
    "CodexRequestsAuth": "codex_login.entrypoints.requests_auth",
    "openai_client": "codex_login.entrypoints.openai_client",
    "AccessToken": "codex_login.domain.tokens",
    "ModelApi": "codex_login.domain.model_api",
    "Status": "codex_login.application.status",
    "LoginOutcome": "codex_login.application.signin",
    "LogoutResult": "codex_login.application.logout",
    "Account": "codex_login.domain.accounts",
    "DeviceCode": "codex_login.domain.device",
    "AuthMode": "codex_login.domain.modes",
    "CredentialRecord": "codex_login.domain.record",
    "CodexLoginError": _ERRORS,
    "ConfigurationError": _ERRORS,
    "CredentialsError": _ERRORS,
    "IssuerMismatch": _ERRORS,
    "LoginError": _ERRORS,
    "LoginTimedOut": _ERRORS,
    "NotLoggedIn": _ERRORS,
    "PolicyViolation": _ERRORS,
    "SessionEnded": _ERRORS,
    "SignInRequired": _ERRORS,
    "StorageError": _ERRORS,
    "TokenEndpointError": _ERRORS,
    "TransientTokenError": _ERRORS,
    "TryAgain": _ERRORS,
}
_EXTRAS = {"CodexHttpxAuth": "httpx", "CodexRequestsAuth": "requests", "openai_client": "openai"}
_MOVED = {  # deprecated here; removed in the release after next
    "bootstrap": "codex_login.entrypoints.bootstrap",
    "AuthService": "codex_login.application.service",
    "FileCredentialStore": "codex_login.stores",
    "MemoryCredentialStore": "codex_login.stores",
    "KeyringCredentialStore": "codex_login.stores",
    "CredentialStore": "codex_login.stores",
    "Clock": "codex_login.stores",
    "LoginPolicy": "codex_login.policy",
    "LoginMethod": "codex_login.policy",
}

__all__ = [  # noqa: RUF022  (grouped by kind, like the table above)
    "CodexAuth",
    "AsyncCodexAuth",
    "CodexHttpxAuth",
    "CodexRequestsAuth",
    "openai_client",
    "AccessToken",
    "ModelApi",
    "Status",
    "LoginOutcome",
    "LogoutResult",
    "Account",
    "DeviceCode",
    "AuthMode",
    "CredentialRecord",
    "CodexLoginError",
    "ConfigurationError",
    "CredentialsError",
    "IssuerMismatch",
    "LoginError",
    "LoginTimedOut",
    "NotLoggedIn",
    "PolicyViolation",
    "SessionEnded",
    "SignInRequired",
    "StorageError",
    "TokenEndpointError",
    "TransientTokenError",
    "TryAgain",
    "MissingExtra",
    "__version__",
]


def _version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("codex-login")


if not TYPE_CHECKING:  # type checkers see the imports above, and only those
    __getattr__, __dir__ = exports(
        __name__, _WHERE, extras=_EXTRAS, moved=_MOVED, computed={"__version__": _version}
    )
