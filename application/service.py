"""The application service an embedding program holds: one object, its ports inside."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, Callable
from typing import TYPE_CHECKING

import attrs

from codex_login.application.options import AuthOptions
from codex_login.application.seam import Seam, SeamEndpoint
from codex_login.domain.errors import (
    ConfigurationError,
    HostManagedLogin,
    NotLoggedIn,
    PolicyViolation,
    StorageError,
    UnsupportedAuthMode,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.login_policy import LoginMethod
from codex_login.domain.resolution import ResolvedAuth

# Imported when first used: read-only commands should not pay for asyncio and logging.
if TYPE_CHECKING:
    from codex_login.application.access_token_login import AccessTokenLogin
    from codex_login.application.accounts import AccountBook
    from codex_login.application.auth_manager import AuthManager
    from codex_login.application.browser_login import BrowserLogin, CallbackListener
    from codex_login.application.device_login import DeviceLogin
    from codex_login.application.logout import LogoutResult
    from codex_login.application.signin import LoginOutcome, SignIn
    from codex_login.application.status import Status
    from codex_login.application.workload_identity import WorkloadIdentityTokens
    from codex_login.domain.accounts import Account
    from codex_login.domain.device import DeviceCode
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.ports import (
        AccountLookup,
        AccountShelf,
        Clock,
        CredentialStore,
        TokenEndpoint,
    )
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.tokens import AccessToken
    from codex_login.domain.whoami import WhoAmI

ListenerFactory = Callable[[], "CallbackListener"]


def _no_listener() -> CallbackListener:
    raise ConfigurationError("no callback server was configured for browser logins")


@attrs.define(kw_only=True, repr=False, eq=False)
class AuthService(FieldsRepr):
    """Log in, hand out tokens, inspect and log out, against one credential store.

    Build it with ``codex_login.entrypoints.bootstrap.bootstrap()``, which wires
    the ports from the environment (or from your keyword overrides).
    """

    store: CredentialStore
    clock: Clock
    endpoint: TokenEndpoint = attrs.field(repr=False)
    options: AuthOptions = attrs.Factory(AuthOptions)
    callback_listener: ListenerFactory = attrs.field(default=_no_listener, repr=False)
    # The inactive logins beside ``store``; None: one login only (a new one replaces it).
    shelf: AccountShelf | None = attrs.field(default=None, repr=False)
    # The one blocking<->async seam: refreshes, revokes and every request to the endpoint
    # run on its loop, so the endpoint's HTTP session lives there (closed with it).
    seam: Seam = attrs.field(factory=Seam, repr=False)
    # Whoami, for access tokens (at-…); None: an access token has no known workspace.
    accounts_lookup: AccountLookup | None = attrs.field(default=None, repr=False)
    # Whoami's answers, by token: asked once per process (the broker holds them).
    _whoami_answers: dict[str, WhoAmI] = attrs.field(factory=dict, init=False, repr=False)
    # The token manager (internal): one per service, shared by its callers, made when first used.
    _manager: AuthManager | WorkloadIdentityTokens | None = attrs.field(
        default=None, init=False, repr=False
    )
    _on_seam: SeamEndpoint | None = attrs.field(default=None, init=False, repr=False)
    # One manager even when many threads ask for the first token at once: two would each
    # refresh (their single-flight is per manager).
    _making: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def _tokens(self) -> AuthManager | WorkloadIdentityTokens:
        manager = self._manager
        if manager is not None:
            return manager
        if self.options.uses_workload_identity:
            return self._workload_identity()
        from codex_login.application.auth_manager import AuthManager  # noqa: PLC0415

        with self._making:
            if self._manager is None:
                self._manager = AuthManager(
                    store=self.store,
                    clock=self.clock,
                    endpoint=self.seamed_endpoint,
                    options=self.options,
                    seam=self.seam,
                    whoami=self.whoami,
                )
            return self._manager

    def _workload_identity(self) -> WorkloadIdentityTokens:
        """The in-memory tokens of the workload identity (no store is read or written)."""
        from codex_login.application.workload_identity import (  # noqa: PLC0415
            WorkloadIdentityTokens,
        )

        identity = self.options.workload_identity
        assert identity is not None  # noqa: S101  (uses_workload_identity said so)
        if not hasattr(self.endpoint, "exchange_workload_identity"):
            raise ConfigurationError("this token endpoint cannot exchange a workload identity")
        self.seamed_endpoint  # noqa: B018  (closes the endpoint's session with the seam)
        with self._making:
            if self._manager is None:
                self._manager = WorkloadIdentityTokens(
                    identity=identity,
                    endpoint=self.endpoint,  # type: ignore[arg-type]
                    issuer=self.options.issuer,
                    clock=self.clock,
                    policy=self.options.policy,
                    login_policy=self.options.login_policy,
                    seam=self.seam,
                )
            assert isinstance(self._manager, WorkloadIdentityTokens)  # noqa: S101
            return self._manager

    @property
    def seamed_endpoint(self) -> SeamEndpoint:
        """``endpoint`` with every request run on the seam's loop, whoever asks."""
        if self._on_seam is None:
            self._on_seam = SeamEndpoint(self.endpoint, self.seam)
        return self._on_seam

    def fresh(self) -> AccessToken | None:
        """The current credential while no refresh is due, else None; never waits.

        The hot path (one ``fingerprint`` of the store, one clock read, no event loop).
        Raises NotLoggedIn, or PolicyViolation when the login policy forbids the credential.
        """
        return self._tokens().fresh()

    async def get_token(self) -> str:
        """The bearer token to send, refreshed first when due."""
        return (await self._tokens().auth()).token  # one coroutine fewer on the hot path

    async def auth(self) -> AccessToken:
        """The credential with its kind and expiry, refreshed first when due."""
        return await self._tokens().auth()

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Refresh the ChatGPT tokens now; with ``stale`` (a refused token), only when that
        is still the current one."""
        return await self._tokens().refresh(stale=stale)

    def model_api_of(self, token: AccessToken) -> ModelApi:
        """Where requests signed with ``token`` go and the headers they carry (no I/O, but
        whoami once per process for an access token, whose workspace it names)."""
        return self.options.model_api.model_api(self.identified(token))

    def identified(self, token: AccessToken) -> AccessToken:
        """``token`` with its account id: an access token's is whoami's (asked once per
        process and token); any other token is returned as it is."""
        from codex_login.domain.access_tokens import workspace_unknown  # noqa: PLC0415

        if not workspace_unknown(token) or self.accounts_lookup is None:
            return token
        return attrs.evolve(token, account_id=self.whoami(token.token).account_id)

    def whoami(self, token: str) -> WhoAmI:
        """Whoami's answer for an access token, asked once per process and token (on the
        seam's loop); raises SessionEnded, TransientTokenError or ConfigurationError."""
        known = self._whoami_answers.get(token)
        if known is not None:
            return known
        if self.accounts_lookup is None:
            raise ConfigurationError("no whoami was configured for access tokens")
        aclose = getattr(self.accounts_lookup, "aclose", None)
        if aclose is not None:  # its HTTP session is closed on the loop that made it
            self.seam.on_close(aclose)
        known = self.seam.run(self.accounts_lookup.whoami(token))
        self._whoami_answers[token] = known
        return known

    def status(self) -> Status | None:
        """The current login without secrets, or None when not logged in.

        Raises PolicyViolation when the login that would be used breaks the login policy.
        """
        from codex_login.application.status import get_status  # noqa: PLC0415  (not for `token`)

        if self.options.uses_workload_identity:
            return self._workload_identity_status()
        return get_status(
            store=self.store, clock=self.clock, options=self.options, whoami=self._status_whoami
        )

    @property
    def _status_whoami(self) -> Callable[[str], WhoAmI] | None:
        return None if self.accounts_lookup is None else self.whoami

    def _workload_identity_status(self) -> Status:
        """A workload identity is described after an exchange (the one `token` would use)."""
        from codex_login.application.workload_identity import (  # noqa: PLC0415
            workload_identity_status,
        )

        tokens = self._workload_identity()
        current = tokens.fresh() or self.seam.run(tokens.auth())
        return workload_identity_status(tokens, current)

    def credentials(self) -> ResolvedAuth | None:
        """The API key or ChatGPT tokens `token` would hand out, as stored (no refresh);
        None when not logged in. Raises PolicyViolation when the login policy forbids them.
        """
        loaded = self.store.load()
        choice = self.options.choose(
            loaded.record if loaded else None, location=self.store.location
        )
        if isinstance(choice.refusal, NotLoggedIn):
            return None
        if choice.refusal is not None:
            raise choice.refusal
        return choice.auth

    def login_with_api_key(self, api_key: str) -> str | None:
        """Store an OpenAI API key as the login (trimmed; refused when empty or spaced).
        Returns the account name the previous login of another account is kept as."""
        from codex_login.application.api_key_login import login_with_api_key  # noqa: PLC0415

        self.check_writable()

        return login_with_api_key(
            store=self.store,
            raw_key=api_key,
            book=self.book,
            login_policy=self.options.login_policy,
        )

    def login_with_access_token(self, token: str) -> AccessTokenLogin:
        """Store an access token (``at-…``) as the login, once whoami knows it; returns who
        it acts for and the account name the previous login of another account is kept
        as. Refused when empty, not one line, or not an access token."""
        from codex_login.application.access_token_login import (  # noqa: PLC0415
            login_with_access_token,
        )

        self.check_writable()
        return login_with_access_token(
            store=self.store,
            raw_token=token,
            whoami=self.whoami,
            book=self.book,
            login_policy=self.options.login_policy,
        )

    async def begin_browser_login(self, *, redirect_uri: str) -> BrowserLogin:
        """A new authorization request, for a callback server of your own."""
        from codex_login.application.browser_login import BrowserLogin  # noqa: PLC0415

        self.options.login_policy.check_method(LoginMethod.CHATGPT)
        self.options.issuer.check_login_client()  # before the issuer is asked anything
        self.check_writable()
        request = await self.seamed_endpoint.authorization_request(
            self.options.issuer, redirect_uri=redirect_uri
        )
        # The issuer offers only the allowed workspaces (the ID token is checked anyway).
        request = attrs.evolve(request, url=self.options.login_policy.authorize_url(request.url))
        return BrowserLogin(request=request, signin=self._signin())

    async def login_in_browser(
        self,
        *,
        announce: Callable[[str, int], None],
        open_browser: Callable[[str], bool] | None = None,
        port: int | None = None,
        timeout: float = 15 * 60,
        listener: CallbackListener | None = None,
        pasted: AsyncIterable[str] | None = None,
        refused: Callable[[str], None] = lambda reason: None,
    ) -> LoginOutcome:
        """Sign in with ChatGPT in a browser, through the loopback callback server.

        ``announce(url, port)`` shows the URL to open; ``open_browser(url)``, when
        given, opens it. ``port`` None means 1455, then 1457; 0 any free port.
        ``pasted`` yields the addresses a user pastes (the one the browser ended on,
        for a browser that cannot reach this machine); whichever of a paste and the
        callback completes first ends the login; ``refused(reason)`` hears why a
        paste could not.
        """
        from codex_login.application.browser_login import login_in_browser  # noqa: PLC0415

        self.options.login_policy.check_method(LoginMethod.CHATGPT)  # before any port is bound
        self.options.issuer.check_login_client()
        self.check_writable()
        return await login_in_browser(
            lambda redirect_uri: self.begin_browser_login(redirect_uri=redirect_uri),
            listener or self.callback_listener(),
            announce=announce,
            open_browser=open_browser,
            port=port,
            timeout=timeout,
            pasted=pasted,
            refused=refused,
        )

    def begin_device_login(self) -> DeviceLogin:
        """A device-code login, for machines without a browser."""
        from codex_login.application.device_login import DeviceLogin  # noqa: PLC0415

        self.options.login_policy.check_method(LoginMethod.CHATGPT)  # before the issuer is asked
        self.options.issuer.check_login_client()
        self.check_writable()
        return DeviceLogin(signin=self._signin())

    async def login_with_device_code(
        self, *, announce: Callable[[DeviceCode], None], timeout: float | None = None
    ) -> LoginOutcome:
        """Sign in on another device with a code: ``announce(device)`` shows where to go
        and what to type; after ``timeout`` seconds (default: the device flow's 15
        minutes; never past the code's expiry) LoginTimedOut."""
        from codex_login.application.device_login import login_with_device_code  # noqa: PLC0415
        from codex_login.domain.device import MAX_WAIT  # noqa: PLC0415  (logins only)

        return await login_with_device_code(
            self.begin_device_login,
            announce=announce,
            timeout=MAX_WAIT if timeout is None else timeout,
        )

    def close_storage(self) -> None:
        """Close what the store and the shelf hold open (a Redis store's connections) now
        rather than when they are collected; a later call opens them again."""
        for part in (self.store, self.shelf):
            close = getattr(part, "close", None)  # only stores that keep connections have it
            if close is not None:
                close()

    def check_writable(self) -> None:
        """Raise StorageError when a login could not be saved (an unwritable CODEX_HOME):
        checked before a login starts, so that nobody signs in in the browser for nothing.
        A store that writes no local disk (the keyring, Redis, memory) has nothing to check.
        """
        from codex_login.domain.ports import ReservingStore  # noqa: PLC0415  (logins only)

        if not isinstance(self.store, ReservingStore):
            return
        try:
            self.store.check_writable()
        except StorageError as exc:
            raise StorageError(
                f"a login could not be saved: {exc}; make that directory writable, or set "
                "CODEX_HOME (or --codex-home) to one you can write"
            ) from exc

    def _signin(self) -> SignIn:
        from codex_login.application.signin import SignIn  # noqa: PLC0415

        return SignIn(
            endpoint=self.seamed_endpoint,
            store=self.store,
            clock=self.clock,
            issuer=self.options.issuer,
            book=self.book,
            login_policy=self.options.login_policy,
        )

    @property
    def book(self) -> AccountBook | None:
        """The accounts: the active login in ``store``, the others in ``shelf``."""
        from codex_login.application.accounts import AccountBook  # noqa: PLC0415

        return None if self.shelf is None else AccountBook(store=self.store, shelf=self.shelf)

    def accounts(self, *, strict: bool = True) -> list[Account]:
        """Every stored login (the active one marked), without secrets; an active record
        that cannot be read raises, unless not ``strict``."""
        return self._required_book().accounts(strict=strict)

    def account_names(self) -> list[str]:
        """Every stored login's name (what ``switch`` and ``for_account`` take), sorted."""
        return self._required_book().names()

    def kept_names(self) -> list[str]:
        """The names of the stored logins that are not the active one, sorted; none
        without a shelf. Read from the shelf alone: no record is opened."""
        return [] if self.shelf is None else sorted(self.shelf.names())

    def switch(self, wanted: str) -> Account:
        """Make another stored login the active one, by name, email or workspace id."""
        return self._required_book().switch(wanted, accept=self._allowed_to_switch_to)

    def _allowed_to_switch_to(self, record: CredentialRecord) -> None:
        """The login policy governs a switch as it governs a login: the credential the
        record would hand out (the one rule, without the environment keys) is checked."""
        own = self.options.without_environment_keys()
        try:
            choice = own.choose(record, location="that account")
        except UnsupportedAuthMode:
            return  # a login of another kind: nothing this policy can judge
        if isinstance(choice.refusal, PolicyViolation):
            raise choice.refusal

    def for_account(self, wanted: str) -> AuthService:
        """A service acting on one stored login (active or not) without switching.

        Environment keys (CODEX_API_KEY, OPENAI_API_KEY) do not stand in for it.
        """
        book = self._required_book()
        options = self.options.without_environment_keys()
        unreadable = book.unreadable_slot(wanted)
        if unreadable is not None:  # its own error, or its logout, names the file
            return attrs.evolve(self, store=unreadable, shelf=None, options=options)
        account = book.find(wanted)
        if account.active:
            return attrs.evolve(self, options=options)
        return attrs.evolve(self, store=book.store_of(account), shelf=None, options=options)

    def _required_book(self) -> AccountBook:
        book = self.book
        if book is None:
            raise ConfigurationError("this service keeps one login only: it has no account shelf")
        return book

    async def logout(self, *, revoke: bool = True) -> LogoutResult:
        """Revoke at the issuer (best effort, unless ``revoke=False``) and forget."""
        if self.options.uses_workload_identity:  # the Codex CLI's refusal, word for word
            raise HostManagedLogin()
        from codex_login.application.logout import logout  # noqa: PLC0415

        return await logout(
            store=self.store,
            endpoint=self.seamed_endpoint,
            issuer=self.options.issuer,
            revoke=revoke,
            seam=self.seam,
        )
