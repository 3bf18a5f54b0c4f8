"""The application service an embedding program holds: one object, its ports inside."""

from __future__ import annotations

import attrs

from codex_login.application.api_key_login import login_with_api_key
from codex_login.application.credentials import load_credentials
from codex_login.application.logout import logout_locally
from codex_login.application.status import Status, get_status
from codex_login.domain.modes import AuthMode
from codex_login.domain.ports import Clock, CredentialStore
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.resolution import ResolvedAuth


@attrs.define
class AuthService:
    """Log in, inspect and log out against one credential store.

    Build it with ``codex_login.entrypoints.bootstrap.bootstrap()``.
    """

    store: CredentialStore
    clock: Clock
    env_api_key: str | None = attrs.field(default=None, repr=False)
    preferred: AuthMode = AuthMode.CHATGPT
    policy: RefreshPolicy = attrs.Factory(RefreshPolicy)

    def status(self) -> Status | None:
        """The current login without secrets, or None when not logged in."""
        return get_status(
            self.store,
            self.clock,
            env_api_key=self.env_api_key,
            preferred=self.preferred,
            policy=self.policy,
        )

    def credentials(self) -> ResolvedAuth | None:
        """The API key or ChatGPT tokens to use, as stored (no refresh)."""
        return load_credentials(self.store, env_api_key=self.env_api_key, preferred=self.preferred)

    def login_with_api_key(self, api_key: str) -> None:
        login_with_api_key(self.store, api_key)

    def logout(self) -> bool:
        """Forget the stored credentials; False when there were none."""
        return logout_locally(self.store)
