"""The application service an embedding program holds: one object, its ports inside."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from codex_login.application.credentials import load_credentials
from codex_login.application.status import Status, get_status
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.modes import AuthMode
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.resolution import ResolvedAuth

# Imported when first used: read-only commands should not pay for asyncio and logging.
if TYPE_CHECKING:
    from codex_login.application.auth_manager import AuthManager, CurrentAuth
    from codex_login.application.browser_login import BrowserLogin
    from codex_login.application.device_login import DeviceLogin
    from codex_login.application.logout import LogoutResult
    from codex_login.application.signin import SignIn
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint


def _no_endpoint() -> TokenEndpoint:
    raise ConfigurationError("no token endpoint was configured for this service")


@attrs.define
class AuthService:
    """Log in, inspect and log out against one credential store.

    Build it with ``codex_login.entrypoints.bootstrap.bootstrap()``. The token
    endpoint is created on first use, so read-only work never loads the HTTP stack.
    """

    store: CredentialStore
    clock: Clock
    env_api_key: str | None = attrs.field(default=None, repr=False)
    preferred: AuthMode = AuthMode.CHATGPT
    policy: RefreshPolicy = attrs.Factory(RefreshPolicy)
    issuer: IssuerConfig = attrs.Factory(IssuerConfig)
    endpoint_factory: Callable[[], TokenEndpoint] = attrs.field(default=_no_endpoint, repr=False)
    refresh_timeout: float = 60.0
    store_notice: str | None = None
    _endpoint: TokenEndpoint | None = attrs.field(default=None, init=False, repr=False)
    _manager: AuthManager | None = attrs.field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> TokenEndpoint:
        if self._endpoint is None:
            self._endpoint = self.endpoint_factory()
        return self._endpoint

    @property
    def manager(self) -> AuthManager:
        """The token manager for this store (one per service, shared by its callers)."""
        if self._manager is None:
            from codex_login.application.auth_manager import AuthManager  # noqa: PLC0415

            self._manager = AuthManager(
                store=self.store,
                clock=self.clock,
                endpoint_factory=lambda: self.endpoint,
                env_api_key=self.env_api_key,
                preferred=self.preferred,
                policy=self.policy,
                refresh_timeout=self.refresh_timeout,
            )
        return self._manager

    async def get_token(self) -> str:
        """The bearer token to send, refreshed first when due."""
        return await self.manager.get_token()

    async def auth(self) -> CurrentAuth:
        """The credential with its kind and expiry, refreshed first when due."""
        return await self.manager.auth()

    async def refresh(self) -> CurrentAuth:
        """Refresh the ChatGPT tokens now."""
        return await self.manager.refresh()

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
        from codex_login.application.api_key_login import login_with_api_key  # noqa: PLC0415

        login_with_api_key(self.store, api_key)

    def begin_browser_login(self, *, redirect_uri: str) -> BrowserLogin:
        """A new authorization request; hand it to a callback server (entrypoints)."""
        from codex_login.application.browser_login import BrowserLogin  # noqa: PLC0415

        request = self.endpoint.authorization_request(redirect_uri=redirect_uri)
        return BrowserLogin(request=request, signin=self._signin())

    def begin_device_login(self) -> DeviceLogin:
        """A device-code login, for machines without a browser."""
        from codex_login.application.device_login import DeviceLogin  # noqa: PLC0415

        return DeviceLogin(signin=self._signin())

    def _signin(self) -> SignIn:
        from codex_login.application.signin import SignIn  # noqa: PLC0415

        return SignIn(
            endpoint=self.endpoint,
            store=self.store,
            clock=self.clock,
            issuer=self.issuer.issuer,
            client_id=self.issuer.client_id,
        )

    def logout_locally(self) -> bool:
        """Forget the stored credentials without telling the issuer."""
        return self.store.delete()

    async def logout(self, *, revoke: bool = True) -> LogoutResult:
        """Revoke at the issuer (best effort, unless ``revoke=False``) and forget."""
        from codex_login.application.logout import logout  # noqa: PLC0415

        return await logout(self.store, lambda: self.endpoint, revoke=revoke)
