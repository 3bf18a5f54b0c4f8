"""The application service an embedding program holds: one object, its ports inside."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from codex_login.application.credentials import load_credentials
from codex_login.application.status import Status, get_status
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.modes import AuthMode
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.resolution import ResolvedAuth

# Imported when first used: read-only commands should not pay for asyncio and logging.
if TYPE_CHECKING:
    from codex_login.application.auth_manager import AuthManager
    from codex_login.application.browser_login import BrowserLogin, CallbackListener
    from codex_login.application.device_login import DeviceLogin
    from codex_login.application.logout import LogoutResult
    from codex_login.application.signin import LoginOutcome, SignIn
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint
    from codex_login.domain.tokens import AccessToken

ListenerFactory = Callable[[], "CallbackListener"]


def _no_listener() -> CallbackListener:
    raise ConfigurationError("no callback server was configured for browser logins")


@attrs.define(kw_only=True)
class AuthService:
    """Log in, hand out tokens, inspect and log out, against one credential store.

    Build it with ``codex_login.entrypoints.bootstrap.bootstrap()``, which wires
    the ports from the environment (or from your keyword overrides).
    """

    store: CredentialStore
    clock: Clock
    endpoint: TokenEndpoint = attrs.field(repr=False)
    issuer: IssuerConfig = attrs.Factory(IssuerConfig)
    env_api_key: str | None = attrs.field(default=None, repr=False)
    # CODEX_API_KEY: handed out before any stored credential (the Codex CLI's exec does so).
    override_api_key: str | None = attrs.field(default=None, repr=False)
    preferred: AuthMode = AuthMode.CHATGPT
    policy: RefreshPolicy = attrs.Factory(RefreshPolicy)
    # Which login methods and workspaces are allowed (config.toml, requirements.toml).
    login_policy: LoginPolicy = attrs.Factory(LoginPolicy)
    refresh_timeout: float = 60.0
    callback_listener: ListenerFactory = attrs.field(default=_no_listener, repr=False)
    store_notice: str | None = None
    _manager: AuthManager | None = attrs.field(default=None, init=False, repr=False)

    @property
    def manager(self) -> AuthManager:
        """The token manager for this store (one per service, shared by its callers)."""
        if self._manager is None:
            from codex_login.application.auth_manager import AuthManager  # noqa: PLC0415

            self._manager = AuthManager(
                store=self.store,
                clock=self.clock,
                endpoint=self.endpoint,
                issuer=self.issuer,
                env_api_key=self.env_api_key,
                override_api_key=self.override_api_key,
                preferred=self.preferred,
                policy=self.policy,
                login_policy=self.login_policy,
                refresh_timeout=self.refresh_timeout,
            )
        return self._manager

    async def get_token(self) -> str:
        """The bearer token to send, refreshed first when due."""
        return await self.manager.get_token()

    async def auth(self) -> AccessToken:
        """The credential with its kind and expiry, refreshed first when due."""
        return await self.manager.auth()

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Refresh the ChatGPT tokens now; with ``stale`` (a refused token), only when that
        is still the current one."""
        return await self.manager.refresh(stale=stale)

    def status(self) -> Status | None:
        """The current login without secrets, or None when not logged in.

        Raises PolicyViolation when the login that would be used breaks the login policy.
        """
        return get_status(
            store=self.store,
            clock=self.clock,
            env_api_key=self.env_api_key,
            override_api_key=self.override_api_key,
            preferred=self.preferred,
            policy=self.policy,
            issuer=self.issuer,
            login_policy=self.login_policy,
        )

    def credentials(self) -> ResolvedAuth | None:
        """The API key or ChatGPT tokens to use, as stored (no refresh)."""
        return load_credentials(
            store=self.store, env_api_key=self.env_api_key, preferred=self.preferred
        )

    def login_with_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as the login (trimmed; refused when empty or spaced)."""
        from codex_login.application.api_key_login import login_with_api_key  # noqa: PLC0415

        login_with_api_key(store=self.store, raw_key=api_key, login_policy=self.login_policy)

    async def begin_browser_login(self, *, redirect_uri: str) -> BrowserLogin:
        """A new authorization request, for a callback server of your own."""
        from codex_login.application.browser_login import BrowserLogin  # noqa: PLC0415

        self.login_policy.check_method(LoginMethod.CHATGPT)
        request = await self.endpoint.authorization_request(self.issuer, redirect_uri=redirect_uri)
        # The issuer offers only the allowed workspaces (the ID token is checked anyway).
        request = attrs.evolve(request, url=self.login_policy.authorize_url(request.url))
        return BrowserLogin(request=request, signin=self._signin())

    async def login_in_browser(
        self,
        *,
        announce: Callable[[str, int], None],
        open_browser: Callable[[str], bool] | None = None,
        port: int | None = None,
        timeout: float = 15 * 60,
        listener: CallbackListener | None = None,
    ) -> LoginOutcome:
        """Sign in with ChatGPT in a browser, through the loopback callback server.

        ``announce(url, port)`` shows the URL to open; ``open_browser(url)``, when
        given, opens it. ``port`` None means 1455, then 1457; 0 any free port.
        """
        from codex_login.application.browser_login import login_in_browser  # noqa: PLC0415

        self.login_policy.check_method(LoginMethod.CHATGPT)  # before any port is bound
        return await login_in_browser(
            lambda redirect_uri: self.begin_browser_login(redirect_uri=redirect_uri),
            listener or self.callback_listener(),
            announce=announce,
            open_browser=open_browser,
            port=port,
            timeout=timeout,
        )

    def begin_device_login(self) -> DeviceLogin:
        """A device-code login, for machines without a browser."""
        from codex_login.application.device_login import DeviceLogin  # noqa: PLC0415

        self.login_policy.check_method(LoginMethod.CHATGPT)  # before the issuer is asked
        return DeviceLogin(signin=self._signin())

    def _signin(self) -> SignIn:
        from codex_login.application.signin import SignIn  # noqa: PLC0415

        return SignIn(
            endpoint=self.endpoint,
            store=self.store,
            clock=self.clock,
            issuer=self.issuer,
            login_policy=self.login_policy,
        )

    def login_marker(self) -> str | None:
        """The stored refresh token or key, to tell afterwards whether a login or refresh
        was committed (for reporting an interrupted command truthfully)."""
        from codex_login.application.credentials import record_or_none  # noqa: PLC0415

        record = record_or_none(self.store)
        if record is None:
            return None
        return record.tokens.refresh_token if record.tokens else record.openai_api_key

    async def logout(self, *, revoke: bool = True) -> LogoutResult:
        """Revoke at the issuer (best effort, unless ``revoke=False``) and forget."""
        from codex_login.application.logout import logout  # noqa: PLC0415

        return await logout(
            store=self.store, endpoint=self.endpoint, issuer=self.issuer, revoke=revoke
        )
