"""codex-login: sign in with ChatGPT or an OpenAI API key, and hand out valid tokens.

This file is installed as ``codex_login/__init__.py``: the one import an
embedding program needs. Names load when first used, so importing one layer
(or running the CLI) never pays for the rest::

    from codex_login import CodexAuth

    auth = CodexAuth()  # $CODEX_HOME/auth.json (~/.codex), shared with the Codex CLI
    headers = {"Authorization": auth.auth().authorization}  # refreshed first when due

``AsyncCodexAuth`` has the same methods as coroutines. ``CodexHttpxAuth`` and
``CodexRequestsAuth`` plug a login into httpx (and so the openai SDK) and requests.
Every error is a ``CodexLoginError``, grouped by what to do next: a ``SignInRequired``
(``NotLoggedIn``, ``SessionEnded``, ``CredentialsError``, ``PolicyViolation``) means a
person must log in, a ``TryAgain`` (``TransientTokenError``, ``StorageError``) that a
later call may succeed. Messages say what happened; what to tell your user is yours.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_login.adapters.file_store import FileCredentialStore
    from codex_login.adapters.keyring_store import KeyringCredentialStore
    from codex_login.adapters.memory_store import MemoryCredentialStore
    from codex_login.application.logout import LogoutResult
    from codex_login.application.service import AuthService
    from codex_login.application.signin import LoginOutcome
    from codex_login.application.status import Status
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
    from codex_login.domain.login_policy import LoginMethod, LoginPolicy
    from codex_login.domain.modes import AuthMode
    from codex_login.domain.ports import Clock, CredentialStore
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.tokens import AccessToken
    from codex_login.entrypoints.bootstrap import bootstrap
    from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
    from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
    from codex_login.entrypoints.requests_auth import CodexRequestsAuth

_WHERE = {
    "CodexAuth": "codex_login.entrypoints.embedding",
    "AsyncCodexAuth": "codex_login.entrypoints.embedding",
    "CodexHttpxAuth": "codex_login.entrypoints.httpx_auth",
    "CodexRequestsAuth": "codex_login.entrypoints.requests_auth",
    "bootstrap": "codex_login.entrypoints.bootstrap",
    "AuthService": "codex_login.application.service",
    "AccessToken": "codex_login.domain.tokens",
    "Status": "codex_login.application.status",
    "LoginOutcome": "codex_login.application.signin",
    "LogoutResult": "codex_login.application.logout",
    "DeviceCode": "codex_login.domain.device",
    "AuthMode": "codex_login.domain.modes",
    "CredentialRecord": "codex_login.domain.record",
    "CredentialStore": "codex_login.domain.ports",
    "Clock": "codex_login.domain.ports",
    "FileCredentialStore": "codex_login.adapters.file_store",
    "MemoryCredentialStore": "codex_login.adapters.memory_store",
    "KeyringCredentialStore": "codex_login.adapters.keyring_store",
    "CodexLoginError": "codex_login.domain.errors",
    "ConfigurationError": "codex_login.domain.errors",
    "CredentialsError": "codex_login.domain.errors",
    "IssuerMismatch": "codex_login.domain.errors",
    "LoginError": "codex_login.domain.errors",
    "LoginTimedOut": "codex_login.domain.errors",
    "NotLoggedIn": "codex_login.domain.errors",
    "PolicyViolation": "codex_login.domain.errors",
    "LoginPolicy": "codex_login.domain.login_policy",
    "LoginMethod": "codex_login.domain.login_policy",
    "SessionEnded": "codex_login.domain.errors",
    "SignInRequired": "codex_login.domain.errors",
    "StorageError": "codex_login.domain.errors",
    "TokenEndpointError": "codex_login.domain.errors",
    "TransientTokenError": "codex_login.domain.errors",
    "TryAgain": "codex_login.domain.errors",
}

__all__ = [  # noqa: RUF022  (grouped by kind, like the table above)
    "CodexAuth",
    "AsyncCodexAuth",
    "CodexHttpxAuth",
    "CodexRequestsAuth",
    "bootstrap",
    "AuthService",
    "AccessToken",
    "Status",
    "LoginOutcome",
    "LogoutResult",
    "DeviceCode",
    "AuthMode",
    "CredentialRecord",
    "CredentialStore",
    "Clock",
    "FileCredentialStore",
    "MemoryCredentialStore",
    "KeyringCredentialStore",
    "CodexLoginError",
    "ConfigurationError",
    "CredentialsError",
    "IssuerMismatch",
    "LoginError",
    "LoginTimedOut",
    "NotLoggedIn",
    "PolicyViolation",
    "LoginPolicy",
    "LoginMethod",
    "SessionEnded",
    "SignInRequired",
    "StorageError",
    "TokenEndpointError",
    "TransientTokenError",
    "TryAgain",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415

        value: Any = version("codex-login")
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    else:
        raise AttributeError(f"module 'codex_login' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
