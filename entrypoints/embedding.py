"""The embedding API: one object to hold, in a blocking (``CodexAuth``) or async
(``AsyncCodexAuth``) flavour with the same method names.

Both wrap one application service (``.service``) and so share its auth manager:
while nothing needs refreshing, ``get_token()`` costs one ``stat`` of the store
and one clock read; refreshes are single-flight within the process and, through
the store's lock, across processes.

In a sandbox, either twin can take its tokens from a broker (``codex-login
serve`` on the host) instead of a store: ``broker=`` or ``CODEX_LOGIN_BROKER``.
It then never holds the refresh token; logins and logouts happen on the host.

The blocking twin never runs an event loop on the caller's thread: work that
must wait for the network runs on the service's seam, one event loop in a
background thread (``application/seam.py``) where the HTTP session lives too,
so it can be called from plain scripts, from many threads at once, and from code
that already runs an event loop (Jupyter).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

import attrs

from codex_login.adapters.clock import SystemClock
from codex_login.application.brokered import BrokeredTokens
from codex_login.application.seam import Seam, off_loop
from codex_login.application.service import AuthService
from codex_login.domain.access_tokens import workspace_unknown
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode
from codex_login.domain.printable import printable
from codex_login.entrypoints.bootstrap import bootstrap, broker_address, broker_client
from codex_login.entrypoints.settings import Settings

if TYPE_CHECKING:
    from codex_login.adapters.broker_client import BrokerClient
    from codex_login.application.logout import LogoutResult
    from codex_login.application.signin import LoginOutcome
    from codex_login.application.status import Status
    from codex_login.domain.accounts import Account
    from codex_login.domain.device import DeviceCode
    from codex_login.domain.login_policy import LoginPolicy
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint
    from codex_login.domain.refresh_policy import RefreshPolicy
    from codex_login.domain.tokens import AccessToken

T = TypeVar("T")
Announce = Callable[[str, int], None]
ShowCode = Callable[["DeviceCode"], None]
LOGIN_TIMEOUT = 15 * 60.0


def _print_url(url: str, port: int) -> None:
    # The default announcers show what the issuer chose, so its control characters are
    # escaped (domain/printable.py), as the command line does.
    print(f"To sign in, open this URL in a browser:\n\n{printable(url)}\n", file=sys.stderr)


def _print_refusal(reason: str) -> None:
    print(printable(f"That address was not accepted: {reason}"), file=sys.stderr)


def _print_code(device: DeviceCode) -> None:
    print(
        printable(
            f"To sign in, open {device.verification_uri} on any device "
            f"and enter the code {device.user_code}"
        ),
        file=sys.stderr,
    )


class _Twin:
    """What both twins share: the one constructor, typed and keyword-only; each twin
    adopts the core it builds (``_adopt``)."""

    _core: _Core

    def __init__(
        self,
        *,
        codex_home: Path | str | None = None,
        store: CredentialStore | None = None,
        issuer: str | None = None,
        client_id: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        endpoint: TokenEndpoint | None = None,
        preferred: AuthMode = AuthMode.CHATGPT,
        policy: RefreshPolicy | None = None,
        login_policy: LoginPolicy | None = None,
        broker: str | None = None,
        service: AuthService | None = None,
    ) -> None:
        env = Settings.from_environ(environ)
        if store is None and service is None:
            broker = broker_address(env, broker)
        if broker is not None:
            self._adopt(_Core.brokered(broker_client(broker, env), clock or SystemClock(), policy))
            return
        self._adopt(
            _Core.stored(
                service
                or bootstrap(
                    codex_home=codex_home,
                    store=store,
                    issuer=issuer,
                    client_id=client_id,
                    environ=env,
                    clock=clock,
                    endpoint=endpoint,
                    preferred=preferred,
                    policy=policy,
                    login_policy=login_policy,
                ),
                owned=service is None and store is None,
                display=env.graphical_display,
            )
        )

    @classmethod
    def _sharing(cls, core: _Core) -> Self:
        twin = cls.__new__(cls)
        twin._adopt(core)
        return twin

    def _adopt(self, core: _Core) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._core.tokens.location!r})"

    @property
    def service(self) -> AuthService:
        """The application service behind this object (not for a broker-backed one)."""
        return self._core.service()

    @property
    def location(self) -> str:
        """Where the tokens come from: a store's location or a broker's address."""
        return self._core.tokens.location


class AsyncCodexAuth(_Twin):
    """Sign in, hand out valid tokens, inspect and sign out; every wait is awaitable.

    Without arguments it uses ``$CODEX_HOME/auth.json`` (default ``~/.codex``),
    shared with the Codex CLI, and reads the environment as the CLI does. Pass a
    ``store``, ``issuer``, ``environ`` ... to choose otherwise, or ``service`` to
    wrap one you built with ``bootstrap()``.
    """

    def _adopt(self, core: _Core) -> None:
        self._core = core
        self._twins: weakref.WeakSet[CodexAuth] = weakref.WeakSet()

    def as_async(self) -> AsyncCodexAuth:
        return self

    def as_blocking(self) -> CodexAuth:
        """A blocking twin sharing this one's login and auth manager (close it, or this
        one, when done)."""
        twin = CodexAuth._sharing(self._core)
        self._twins.add(twin)
        return twin

    async def __aenter__(self) -> AsyncCodexAuth:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what ``CodexAuth.close()`` releases: the seam's background thread (and
        its HTTP session) and the connections of a store built from the environment, this
        one's and those of the blocking twins made from this one (``as_blocking()``) or
        wrapping it."""
        cores = {id(core): core for core in [self._core, *(t._core for t in list(self._twins))]}
        for core in cores.values():  # twins share a core: each closed once
            if core.seam.on_own_thread():
                continue  # called on the seam's own loop: stopping it would strand us
            await off_loop(core.close)  # joins a thread: not on the caller's loop

    async def get_token(self) -> str:
        """The bearer token to send (API key or ChatGPT access token), refreshed when due."""
        return (await self.auth()).token

    async def auth(self) -> AccessToken:
        """The credential with its kind, expiry and account id, refreshed when due."""
        return await self._core.tokens.auth()

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Refresh now. With ``stale`` (a token a server refused), only if it is still current;
        tokens issued less than ``min_token_age_for_forced_refresh`` (5 s) ago are returned
        as they are."""
        return await self._core.tokens.refresh(stale=stale)

    async def model_api(self) -> ModelApi:
        """Where the login's model requests go and every header they carry (the token's
        included), refreshed first when due; see ``model_api_of``."""
        return await self.model_api_of(await self.auth())

    async def model_api_of(self, token: AccessToken) -> ModelApi:
        """The model API to call with ``token`` (from ``auth()`` or ``refresh()``): its base
        URL (the login kind's default, or ``openai_base_url`` in config.toml; a broker's
        own) and its headers (``Authorization``, ``ChatGPT-Account-ID`` when the login
        has an account). Waits for nothing, but whoami for an access token (once per
        process), asked on a worker thread."""
        if workspace_unknown(token):
            return await off_loop(self._core.tokens.model_api_of, token)
        return self._core.tokens.model_api_of(token)

    async def status(self) -> Status | None:
        """The current login without secrets, or None when not logged in."""
        return await off_loop(self._core.status)

    async def login_with_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as the login; waits for the lock on a worker thread."""
        await off_loop(self.service.login_with_api_key, api_key)

    async def accounts(self) -> list[Account]:
        """Every stored login (the active one marked), without secrets."""
        return await off_loop(self.service.accounts)

    async def switch(self, account: str) -> Account:
        """Make another stored login active (by name, email or workspace id); waits for
        the lock on a worker thread."""
        return await off_loop(self.service.switch, account)

    async def for_account(self, account: str) -> AsyncCodexAuth:
        """An object acting on one stored login, active or not, without switching; the
        accounts are read on a worker thread."""
        service = await off_loop(self.service.for_account, account)
        return AsyncCodexAuth._sharing(_Core.stored(service))

    async def login_in_browser(
        self,
        *,
        announce: Announce = _print_url,
        open_browser: bool = True,
        port: int | None = None,
        timeout: float = LOGIN_TIMEOUT,
        pasted: AsyncIterable[str] | None = None,
        refused: Callable[[str], None] = _print_refusal,
    ) -> LoginOutcome:
        """Sign in with ChatGPT in a browser through the loopback callback server.

        ``announce(url, port)`` shows the URL (default: printed on stderr);
        ``open_browser`` opens it in a graphical browser when there is one.
        ``pasted`` yields addresses the user pastes (the one a browser on another
        machine ended on); the first paste or callback that completes the login
        wins, and ``refused(reason)`` hears why a paste did not.
        """
        opener = None
        if open_browser:
            from codex_login.adapters.browser import SystemBrowser  # noqa: PLC0415

            opener = SystemBrowser(self._core.display).open  # the given environ's
        return await self.service.login_in_browser(
            announce=announce,
            open_browser=opener,
            port=port,
            timeout=timeout,
            pasted=pasted,
            refused=refused,
        )

    async def login_with_device_code(
        self, *, show: ShowCode = _print_code, timeout: float = LOGIN_TIMEOUT
    ) -> LoginOutcome:
        """Sign in on another device with a code (machines without a browser).

        ``show(device)`` tells the user where to go and which code to enter.
        """
        return await self.service.login_with_device_code(announce=show, timeout=timeout)

    async def logout(self, *, revoke: bool = True) -> LogoutResult:
        """Revoke at the issuer (best effort, unless ``revoke=False``) and forget the login."""
        return await self.service.logout(revoke=revoke)


class CodexAuth(_Twin):
    """The blocking twin of ``AsyncCodexAuth``: the same methods, each returning its result.

    Safe to share between threads and usable inside a running event loop; close
    it (or use ``with``) to stop its background thread, which is started the
    first time a call has to wait for the network.
    """

    def _adopt(self, core: _Core) -> None:
        self._core = core
        self._async = AsyncCodexAuth._sharing(core)
        self._async._twins.add(self)

    @classmethod
    def from_async(cls, twin: AsyncCodexAuth) -> CodexAuth:
        """A blocking twin sharing ``twin``'s login and auth manager."""
        return twin.as_blocking()

    def as_async(self) -> AsyncCodexAuth:
        """The async twin sharing this one's login and auth manager."""
        return self._async

    def as_blocking(self) -> CodexAuth:
        return self

    def __enter__(self) -> CodexAuth:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def get_token(self) -> str:
        """The bearer token to send (API key or ChatGPT access token), refreshed when due."""
        return self.auth().token

    def auth(self) -> AccessToken:
        """The credential with its kind, expiry and account id, refreshed when due."""
        tokens = self._core.tokens
        return tokens.fresh() or self._wait(tokens.auth())

    def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Refresh now. With ``stale`` (a token a server refused), only if it is still current;
        tokens issued less than ``min_token_age_for_forced_refresh`` (5 s) ago are returned
        as they are."""
        return self._wait(self._core.tokens.refresh(stale=stale))

    def model_api(self) -> ModelApi:
        """Where the login's model requests go and every header they carry (the token's
        included), refreshed first when due; see ``AsyncCodexAuth.model_api_of``."""
        return self.model_api_of(self.auth())

    def model_api_of(self, token: AccessToken) -> ModelApi:
        """The model API to call with ``token``; see ``AsyncCodexAuth.model_api_of``."""
        return self._core.tokens.model_api_of(token)

    def status(self) -> Status | None:
        """The current login without secrets, or None when not logged in."""
        return self._core.status()

    def login_with_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as the login."""
        self.service.login_with_api_key(api_key)

    def accounts(self) -> list[Account]:
        """Every stored login (the active one marked), without secrets."""
        return self.service.accounts()

    def switch(self, account: str) -> Account:
        """Make another stored login active, by name, email or workspace id."""
        return self.service.switch(account)

    def for_account(self, account: str) -> CodexAuth:
        """An object acting on one stored login, active or not, without switching
        (close it when done)."""
        return CodexAuth._sharing(_Core.stored(self.service.for_account(account)))

    def login_in_browser(
        self,
        *,
        announce: Announce = _print_url,
        open_browser: bool = True,
        port: int | None = None,
        timeout: float = LOGIN_TIMEOUT,
        pasted: Iterable[str] | None = None,
        refused: Callable[[str], None] = _print_refusal,
    ) -> LoginOutcome:
        """Sign in with ChatGPT in a browser; see ``AsyncCodexAuth.login_in_browser``.

        ``pasted`` is a blocking iterable here (a queue's ``iter(q.get, None)``,
        a file), read in a background thread.
        """
        lines = None
        if pasted is not None:
            from codex_login.adapters.pasted_lines import lines_in_background  # noqa: PLC0415

            lines = lines_in_background(pasted)
        return self._wait(
            self._async.login_in_browser(
                announce=announce,
                open_browser=open_browser,
                port=port,
                timeout=timeout,
                pasted=lines,
                refused=refused,
            )
        )

    def login_with_device_code(
        self, *, show: ShowCode = _print_code, timeout: float = LOGIN_TIMEOUT
    ) -> LoginOutcome:
        """Sign in on another device with a code; ``show(device)`` tells the user how."""
        return self._wait(self._async.login_with_device_code(show=show, timeout=timeout))

    def logout(self, *, revoke: bool = True) -> LogoutResult:
        """Revoke at the issuer (best effort, unless ``revoke=False``) and forget the login."""
        return self._wait(self._async.logout(revoke=revoke))

    def close(self) -> None:
        """Stop the background thread (the seam shared with this object's twins) and close
        its HTTP session, if one was started, and the connections of a store built from
        the environment (a Redis store's; a ``store`` or ``service`` you passed is yours to
        close). Calls after this start a new thread and connect again."""
        self._core.close()

    # -- the seam ---------------------------------------------------------------------

    def _wait(self, work: Coroutine[Any, Any, T]) -> T:
        seam = self._core.seam
        if seam.on_own_thread():
            work.close()
            raise RuntimeError(
                "a blocking CodexAuth call was made from inside one of its own callbacks; "
                "use AsyncCodexAuth there"
            )
        return seam.run(work)


class TokenSource(Protocol):
    """What hands out tokens: the auth manager over a store, or a broker's tokens."""

    @property
    def location(self) -> str: ...

    def fresh(self) -> AccessToken | None: ...

    def model_api_of(self, token: AccessToken) -> ModelApi: ...

    async def auth(self) -> AccessToken: ...

    async def refresh(self, *, stale: str | None = None) -> AccessToken: ...


@attrs.frozen(repr=False)
class _Core(FieldsRepr):
    """What twins share: the token source, the seam blocking calls wait on, and the
    service when there is a store (whose seam it is; a broker's core has its own)."""

    tokens: TokenSource
    seam: Seam
    _service: AuthService | None = None
    _broker: BrokeredTokens | None = None
    _owned: bool = False  # the service was built here: its store is ours to close
    display: str | None = None  # the graphical display of the settings it was made with

    @classmethod
    def stored(
        cls, service: AuthService, *, owned: bool = False, display: str | None = None
    ) -> _Core:
        return cls(_StoredTokens(service), service.seam, service, owned=owned, display=display)

    def close(self) -> None:
        """Stop the seam, and close the store's connections if the store was built here."""
        self.seam.close()
        if self._owned and self._service is not None:
            self._service.close_storage()

    @classmethod
    def brokered(cls, client: BrokerClient, clock: Clock, policy: RefreshPolicy | None) -> _Core:
        tokens = BrokeredTokens(broker=client, clock=clock, policy=policy)
        return cls(tokens, Seam(), None, tokens)

    @property
    def from_broker(self) -> bool:
        return self._broker is not None

    def service(self) -> AuthService:
        if self._service is None:
            raise ConfigurationError(
                f"this login is served by {self.tokens.location}: log in and out on the host "
                "that runs the broker"
            )
        return self._service

    def status(self) -> Status | None:
        if self._broker is not None:
            return self._broker.status()
        return self.service().status()


@attrs.frozen(repr=False)
class _StoredTokens(FieldsRepr):
    """The auth manager of a store-backed service, as a token source."""

    service: AuthService

    @property
    def location(self) -> str:
        return self.service.store.location

    def fresh(self) -> AccessToken | None:
        return self.service.fresh()

    def model_api_of(self, token: AccessToken) -> ModelApi:
        return self.service.model_api_of(token)

    async def auth(self) -> AccessToken:
        return await self.service.auth()

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        return await self.service.refresh(stale=stale)
