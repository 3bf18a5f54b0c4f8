"""The auth manager: hands out a valid credential, refreshing it first when due.

Across processes it follows one protocol, so that N processes with an expired
token send exactly one refresh request (SPEC §4):

1. decide from the record read without a lock whether a refresh is due;
2. take the writer lock and read the record again; if its tokens are not the
   ones seen in step 1, another process refreshed: adopt them, post nothing;
3. otherwise post the refresh while still holding the lock, commit, release.

Inside one process, concurrent callers share one in-flight refresh. The hot
path costs one ``stat`` of the store and one clock read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from datetime import datetime

import attrs

from codex_login.application.credentials import resolve_loaded
from codex_login.domain.claims import token_expiry
from codex_login.domain.errors import NotLoggedIn, SessionEnded, TransientTokenError
from codex_login.domain.modes import AuthMode
from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh import refreshed_record
from codex_login.domain.refresh_policy import NEVER, RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth, ChatGptAuth
from codex_login.domain.tokens import TokenData, TokenGrant

log = logging.getLogger(__name__)


@attrs.frozen
class CurrentAuth:
    """The credential to send: an API key or a ChatGPT access token."""

    mode: AuthMode
    token: str = attrs.field(repr=False)
    expires_at: datetime | None = None
    account_id: str | None = None

    @property
    def authorization(self) -> str:
        """The value of the HTTP ``Authorization`` header."""
        return f"Bearer {self.token}"


@attrs.frozen
class _Snapshot:
    """What the store held at one fingerprint, resolved once."""

    fingerprint: Hashable
    record: CredentialRecord | None
    current: CurrentAuth | None
    refresh_at: datetime = NEVER

    @property
    def tokens(self) -> TokenData | None:
        return self.record.tokens if self.record else None


class AuthManager:
    """Always hands out a valid token; safe to share between coroutines and processes."""

    def __init__(
        self,
        *,
        store: CredentialStore,
        clock: Clock,
        endpoint_factory: Callable[[], TokenEndpoint],
        env_api_key: str | None = None,
        preferred: AuthMode = AuthMode.CHATGPT,
        policy: RefreshPolicy | None = None,
        refresh_timeout: float = 60.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._endpoint_factory = endpoint_factory
        self._endpoint: TokenEndpoint | None = None
        self._env_api_key = env_api_key
        self._preferred = preferred
        self._policy = policy or RefreshPolicy()
        self._refresh_timeout = refresh_timeout
        self._snapshot: _Snapshot | None = None
        # The refresh token the issuer declared dead, and what it said.
        self._ended: tuple[str, SessionEnded] | None = None
        self._inflight: tuple[asyncio.AbstractEventLoop, asyncio.Task[CurrentAuth]] | None = None

    # -- the API --------------------------------------------------------------------

    async def get_token(self) -> str:
        """The bearer token to send, refreshed first when due."""
        return (await self.auth()).token

    async def auth(self) -> CurrentAuth:
        """The current credential with its kind and expiry, refreshed first when due."""
        snapshot = self._current_snapshot()
        if snapshot.current is None:
            raise NotLoggedIn()
        if self._clock.now() < snapshot.refresh_at:
            return snapshot.current
        return await self._shared_refresh(force=False)

    async def refresh(self) -> CurrentAuth:
        """Refresh now, whether due or not (an API key is returned as it is)."""
        snapshot = self._current_snapshot()
        if snapshot.current is None:
            raise NotLoggedIn()
        if snapshot.current.mode is AuthMode.API_KEY:
            return snapshot.current
        return await self._shared_refresh(force=True)

    # -- reading ------------------------------------------------------------------

    def _current_snapshot(self) -> _Snapshot:
        fingerprint = self._store.fingerprint()
        snapshot = self._snapshot
        if snapshot is None or snapshot.fingerprint != fingerprint:
            snapshot = self._snapshot = self._read(fingerprint)
        return snapshot

    def _read(self, fingerprint: Hashable) -> _Snapshot:
        loaded = self._store.load()
        record = loaded.record if loaded else None
        auth = resolve_loaded(
            loaded,
            location=self._store.location,
            env_api_key=self._env_api_key,
            preferred=self._preferred,
        )
        if isinstance(auth, ChatGptAuth):
            tokens = auth.tokens
            current = CurrentAuth(
                AuthMode.CHATGPT,
                tokens.access_token,
                token_expiry(tokens.access_token),
                tokens.account_id or tokens.id_token.account_id,
            )
            last_refresh = record.last_refresh if record else None
            return _Snapshot(
                fingerprint, record, current, self._policy.due_at(tokens, last_refresh)
            )
        if isinstance(auth, ApiKeyAuth):
            return _Snapshot(fingerprint, record, CurrentAuth(AuthMode.API_KEY, auth.api_key))
        return _Snapshot(fingerprint, record, None)

    # -- refreshing ------------------------------------------------------------------

    async def _shared_refresh(self, *, force: bool) -> CurrentAuth:
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is not None and inflight[0] is loop and not inflight[1].done():
            return await asyncio.shield(inflight[1])
        task = loop.create_task(self._refresh(force=force))
        self._inflight = (loop, task)
        return await asyncio.shield(task)

    async def _refresh(self, *, force: bool) -> CurrentAuth:
        seen = self._current_snapshot()
        ended = self._ended
        if ended is not None and seen.tokens and seen.tokens.refresh_token == ended[0]:
            raise ended[1]  # this session is over; don't ask the issuer again
        snapshot = await asyncio.to_thread(self._locked_refresh, seen, force)
        self._snapshot = snapshot
        if snapshot.current is None:
            raise NotLoggedIn()
        return snapshot.current

    def _locked_refresh(self, seen: _Snapshot, force: bool) -> _Snapshot:
        """Steps 2 and 3 of the protocol, in a worker thread that holds the writer lock."""
        with self._store.exclusive():
            now_seen = self._read(self._store.fingerprint())
            record, tokens, current = now_seen.record, now_seen.tokens, now_seen.current
            if record is None or tokens is None or current is None:
                return now_seen  # logged out meanwhile
            if current.mode is not AuthMode.CHATGPT:
                return now_seen  # switched to an API key meanwhile
            if _token_pair(tokens) != _token_pair(seen.tokens):
                log.debug("another process refreshed; adopting its tokens")
                return now_seen
            if not force and self._clock.now() < now_seen.refresh_at:
                return now_seen
            log.debug("refreshing the ChatGPT tokens")
            # Built only now: processes that adopt another's tokens never load the HTTP stack.
            grant = self._post_refresh(self._token_endpoint(), tokens.refresh_token)
            self._store.save(refreshed_record(record, grant, self._clock.now()))
            return self._read(self._store.fingerprint())

    def _post_refresh(self, endpoint: TokenEndpoint, refresh_token: str) -> TokenGrant:
        """POST on this worker thread's own event loop.

        The caller's loop is never needed while the lock is held, so code on that
        loop that takes the store lock cannot deadlock with us; and a caller that
        gives up does not stop a refresh whose new tokens must be committed.
        """
        posted = endpoint.refresh(refresh_token=refresh_token)
        try:
            return asyncio.run(asyncio.wait_for(posted, self._refresh_timeout))
        except SessionEnded as exc:
            self._ended = (refresh_token, exc)
            raise
        except TimeoutError:
            raise TransientTokenError(
                f"the refresh took longer than {self._refresh_timeout:g} s; "
                "the stored login is unchanged, try again later"
            ) from None

    def _token_endpoint(self) -> TokenEndpoint:
        if self._endpoint is None:
            self._endpoint = self._endpoint_factory()
        return self._endpoint


def _token_pair(tokens: TokenData | None) -> tuple[str, str] | None:
    return None if tokens is None else (tokens.access_token, tokens.refresh_token)
