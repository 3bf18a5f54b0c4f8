"""The ports: what the application needs from the outside world."""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from codex_login.domain.device import DeviceCode, DevicePending
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.model_api import ModelApi
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.domain.tokens import AccessToken, TokenGrant
from codex_login.domain.whoami import WhoAmI


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class CredentialStore(Protocol):
    """Where one set of credentials lives (a file, the OS keyring, memory)."""

    @property
    def location(self) -> str:
        """Where the credentials are, for messages (a path, 'memory', a keyring entry)."""
        ...

    def load(self) -> Loaded | None:
        """The stored record, or None when nothing is stored. Takes no lock."""
        ...

    def save(self, record: CredentialRecord) -> None:
        """Replace the stored record atomically."""
        ...

    def delete(self) -> bool:
        """Remove the stored record; False when there was none."""
        ...

    def fingerprint(self) -> Hashable:
        """A cheap value that changes whenever the stored record may have changed."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the lock every writer takes, across processes, until the block ends.

        ``save`` and ``delete`` inside the block reuse it.
        """
        ...


class AccountShelf(Protocol):
    """The inactive logins, each in a slot of its own beside the active store.

    A slot is a ``CredentialStore`` of the same kind as the active one (a file,
    a keyring entry, a Redis key), with its own lock.
    """

    def names(self) -> list[str]:
        """The slots that may hold a login, sorted."""
        ...

    def slot(self, name: str) -> CredentialStore:
        """The store of slot ``name`` (created on first save)."""
        ...


@runtime_checkable
class LeasedStore(Protocol):
    """A store whose ``exclusive()`` is a lease that can expire while held (Redis).

    Before a refresh token is sent, the holder confirms the lease is still its own
    and the record unchanged, so a writer paused past its lease does not spend a
    refresh token that another writer has already rotated.
    """

    def confirm_exclusive(self) -> None:
        """Renew the lease if it is still ours and the record unchanged; else raise LeaseLost."""
        ...


@runtime_checkable
class ReservingStore(Protocol):
    """A store whose commit needs room on a local disk (auth.json), reserved beforehand.

    A refresh spends the stored refresh token: if the commit of the rotated tokens then
    fails (a full disk), the login is lost, so the room for that commit is taken before
    the refresh is sent. Stores that write elsewhere (the OS keyring, Redis, memory) have
    no disk of ours to fill and are not reserving stores: for them this step is a no-op.
    """

    def reserve(self, record: CredentialRecord) -> AbstractContextManager[None]:
        """Hold room for a commit of about ``record``'s size until the block ends; the
        next ``save`` in the block uses it. Raises StorageError when there is no room.
        The caller holds ``exclusive()``."""
        ...

    def check_writable(self) -> None:
        """Raise StorageError, naming the directory, when a commit could not be written
        there: asked before a login starts, so that nobody signs in for nothing."""
        ...


@runtime_checkable
class RemoteFingerprintStore(Protocol):
    """A store whose ``fingerprint()`` may be a network round trip (Redis without
    client-side caching): never asked on a caller's event loop, only on a worker thread.

    Stores whose fingerprint is a ``stat`` or a memory read (files, the keyring, memory)
    do not implement it and keep their hot path on the caller's loop.
    """

    @property
    def fingerprint_is_remote(self) -> bool:
        """Whether ``fingerprint()`` may wait for the network."""
        ...


class TokenEndpoint(Protocol):
    """An issuer's OAuth endpoints: authorization, token, revocation, API-key exchange.

    Every call names the issuer it talks to: the application decides where a
    token may go (the issuer that issued it), the adapter only carries it there.
    """

    async def authorization_request(
        self, issuer: IssuerConfig, *, redirect_uri: str
    ) -> AuthorizationRequest:
        """A fresh PKCE verifier and state, and the authorize URL carrying them."""
        ...

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        """Trade an authorization code (and its PKCE verifier) for tokens."""
        ...

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        """Trade an ID token for an OpenAI API key (RFC 8693)."""
        ...

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        """Use a refresh token; raises SessionEnded or TransientTokenError on failure."""
        ...

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        """Revoke a token (RFC 7009)."""
        ...

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        """Ask for a user code to approve on another device."""
        ...

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        """The tokens once the user approved; raises AuthorizationDenied or LoginTimedOut."""
        ...


class AccountLookup(Protocol):
    """Whoami: the account an access token (``at-…``) acts for."""

    async def whoami(self, token: str) -> WhoAmI:
        """Ask whoami with ``token`` as bearer; raises SessionEnded when it is refused,
        TransientTokenError when whoami cannot be reached, ConfigurationError for an
        unusable CODEX_AUTHAPI_BASE_URL."""
        ...


class TokenBroker(Protocol):
    """A process that owns the login and hands out access tokens, never the refresh token."""

    @property
    def location(self) -> str:
        """Where the broker is, for messages."""
        ...

    def fetch(self, *, stale: str | None = None) -> AccessToken:
        """The broker's current token; with ``stale`` (a refused token), a refreshed one."""
        ...

    def model_api_of(self, token: AccessToken) -> ModelApi:
        """The model API to call with ``token`` (one this broker handed out), as the broker
        said it."""
        ...
