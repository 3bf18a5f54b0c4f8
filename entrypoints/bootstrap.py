"""The one composition root: builds the application service from settings and adapters.

Embedders and tests call ``bootstrap()`` with keyword overrides::

        from codex_login.entrypoints.bootstrap import bootstrap

    auth = bootstrap(store=MemoryCredentialStore())
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters.clock import SystemClock
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.application.service import AuthService
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.issuer import IssuerConfig, issuer_config
from codex_login.domain.modes import AuthMode
from codex_login.domain.refresh_policy import RefreshPolicy

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint

STORES = ("file", "memory", "keyring", "auto")


def codex_home_from(environ: Mapping[str, str], override: Path | str | None = None) -> Path:
    """``--codex-home`` beats ``$CODEX_HOME`` beats ``~/.codex``; always absolute."""
    chosen = override if override else environ.get("CODEX_HOME") or "~/.codex"
    return Path(os.path.abspath(Path(chosen).expanduser()))


def make_store(kind: str, codex_home: Path) -> tuple[CredentialStore, str | None]:
    """The store named by CODEX_LOGIN_STORE, and a notice when ``auto`` had to choose."""
    if kind == "file":
        return FileCredentialStore(codex_home), None
    if kind == "memory":
        from codex_login.adapters.memory_store import MemoryCredentialStore  # noqa: PLC0415

        return MemoryCredentialStore(), None
    if kind in ("keyring", "auto"):
        from codex_login.adapters import keyring_store  # noqa: PLC0415

        backend = keyring_store.system_keyring()
        if backend is not None or kind == "keyring":
            store = keyring_store.KeyringCredentialStore(codex_home, backend=backend)
            return store, f"Using {store.location}" if kind == "auto" else None
        return FileCredentialStore(codex_home), (
            f"No OS keyring is available; using {codex_home / 'auth.json'} (mode 0600)"
        )
    raise ConfigurationError(
        f"CODEX_LOGIN_STORE={kind!r} is not a credential store; use one of: {', '.join(STORES)}"
    )


def issuer_from(
    environ: Mapping[str, str], *, issuer: str | None = None, client_id: str | None = None
) -> IssuerConfig:
    """Options beat ``CODEX_LOGIN_ISSUER``; every command that talks to the issuer uses this."""
    return issuer_config(
        issuer=issuer or environ.get("CODEX_LOGIN_ISSUER") or None,
        client_id=client_id or environ.get("CODEX_LOGIN_CLIENT_ID") or None,
        profile=environ.get("CODEX_LOGIN_ISSUER_PROFILE") or None,
        refresh_url=environ.get("CODEX_REFRESH_TOKEN_URL_OVERRIDE") or None,
        revoke_url=environ.get("CODEX_REVOKE_TOKEN_URL_OVERRIDE") or None,
    )


def http_endpoint(config: IssuerConfig, environ: Mapping[str, str]) -> TokenEndpoint:
    """The real token endpoint; imports aiohttp and authlib only now."""
    from codex_login.adapters.oauth_http import HttpTokenEndpoint  # noqa: PLC0415

    ca_file = environ.get("CODEX_CA_CERTIFICATE") or environ.get("SSL_CERT_FILE") or None
    return HttpTokenEndpoint(config, ca_file=ca_file)


def bootstrap(
    *,
    codex_home: Path | str | None = None,
    store: CredentialStore | None = None,
    clock: Clock | None = None,
    endpoint: TokenEndpoint | None = None,
    issuer: str | None = None,
    client_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    preferred: AuthMode = AuthMode.CHATGPT,
    policy: RefreshPolicy | None = None,
) -> AuthService:
    """Wire the service. Anything not passed comes from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    notice = None
    if store is None:
        kind = env.get("CODEX_LOGIN_STORE") or "file"
        store, notice = make_store(kind, codex_home_from(env, codex_home))
    config = issuer_from(env, issuer=issuer, client_id=client_id)
    return AuthService(
        store=store,
        clock=clock or SystemClock(),
        env_api_key=env.get("OPENAI_API_KEY") or None,
        preferred=preferred,
        policy=policy or RefreshPolicy(),
        issuer=config,
        endpoint_factory=(lambda: endpoint) if endpoint else (lambda: http_endpoint(config, env)),
        store_notice=notice,
    )
