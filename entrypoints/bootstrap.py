"""The one composition root: builds the application service from settings and adapters.

Embedders and tests call ``bootstrap()`` with keyword overrides::

    from codex_login.adapters.memory_store import MemoryCredentialStore
    from codex_login.entrypoints.bootstrap import bootstrap

    auth = bootstrap(store=MemoryCredentialStore())
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from codex_login.adapters.clock import SystemClock
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.service import AuthService
from codex_login.domain.errors import CodexLoginError
from codex_login.domain.modes import AuthMode
from codex_login.domain.ports import Clock, CredentialStore
from codex_login.domain.refresh_policy import RefreshPolicy

STORES = ("file", "memory")


class ConfigurationError(CodexLoginError):
    """A setting in the environment or on the command line is unusable."""


def codex_home_from(environ: Mapping[str, str], override: Path | str | None = None) -> Path:
    """``--codex-home`` beats ``$CODEX_HOME`` beats ``~/.codex``; always absolute."""
    chosen = override if override else environ.get("CODEX_HOME") or "~/.codex"
    return Path(os.path.abspath(Path(chosen).expanduser()))


def make_store(kind: str, codex_home: Path) -> CredentialStore:
    if kind == "file":
        return FileCredentialStore(codex_home)
    if kind == "memory":
        return MemoryCredentialStore()
    raise ConfigurationError(
        f"CODEX_LOGIN_STORE={kind!r} is not a credential store; use one of: {', '.join(STORES)}"
    )


def bootstrap(
    *,
    codex_home: Path | str | None = None,
    store: CredentialStore | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    preferred: AuthMode = AuthMode.CHATGPT,
    policy: RefreshPolicy | None = None,
) -> AuthService:
    """Wire the service. Anything not passed comes from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    if store is None:
        store = make_store(env.get("CODEX_LOGIN_STORE") or "file", codex_home_from(env, codex_home))
    return AuthService(
        store=store,
        clock=clock or SystemClock(),
        env_api_key=env.get("OPENAI_API_KEY") or None,
        preferred=preferred,
        policy=policy or RefreshPolicy(),
    )
