"""The auth manager: hands out a valid credential, refreshing it first when due.

Across processes it follows one protocol, so that N processes with an expired
token send exactly one refresh request (SPEC §4):

1. decide from the record read without a lock whether a refresh is due;
2. take the writer lock and read the record again; if its tokens are not the
   ones seen in step 1, another process refreshed: adopt them, post nothing;
3. otherwise reserve the room the commit needs (a store on a local disk), post the
   refresh while still holding the lock, commit into that room, release. With no room,
   nothing is posted: a refresh token is never spent on tokens that cannot be saved.

Inside one process, concurrent callers share one in-flight refresh. The hot
path costs one ``stat`` of the store and one clock read.

A forced refresh (``refresh``: a server refused the token) of tokens younger than
the policy's ``min_token_age_for_forced_refresh`` answers them and posts nothing,
checked before the lock (a burst costs no lock) and again under it (tokens another
process just committed): a client cannot make the issuer rotate the login at will.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from codex_login.application.options import AuthOptions
from codex_login.application.seam import Seam, off_loop
from codex_login.domain.claims import token_expiry
from codex_login.domain.errors import (
    CodexLoginError,
    IssuerMismatch,
    LeaseLost,
    NotLoggedIn,
    SessionEnded,
    StorageError,
    TokensUnsaved,
    TransientTokenError,
    UntrustedPath,
    WorkspaceRefused,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import IssuerConfig, bind, check_issuer
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh import refreshed_record
from codex_login.domain.refresh_policy import NEVER
from codex_login.domain.resolution import AccessTokenAuth, ApiKeyAuth, ChatGptAuth
from codex_login.domain.tokens import AccessToken, TokenData, TokenGrant

# asyncio (with ssl) and logging cost more than the whole hot path, which needs
# neither: the methods that refresh import them, so a fresh token never loads them.
if TYPE_CHECKING:
    import asyncio
    import logging
    from collections.abc import Callable

    from codex_login.domain.choice import Choice
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint
    from codex_login.domain.whoami import WhoAmI

__all__ = ["AccessToken", "AuthManager"]  # AccessToken is the domain's, re-exported here


def _log() -> logging.Logger:
    import logging  # noqa: PLC0415  (see the import block)

    return logging.getLogger(__name__)


# Pauses between attempts to save tokens the issuer already rotated (a full disk may clear).
COMMIT_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)
# Where tokens the store refused are: a long-lived process saves them at its next
# refresh; the edge that knows a process ends here says what that means (the CLI).
ONLY_HERE = (
    "the new tokens exist only in this process's memory (a process that goes on saves them "
    "at its next refresh)"
)


@attrs.frozen(repr=False)
class _Snapshot(FieldsRepr):
    """What the store held at one fingerprint, resolved once."""

    fingerprint: Hashable
    record: CredentialRecord | None
    current: AccessToken | None
    refresh_at: datetime = NEVER
    # Why nothing is handed out: NotLoggedIn, the login policy, a conflicting issuer.
    refused: CodexLoginError | None = None

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
        endpoint: TokenEndpoint,
        options: AuthOptions | None = None,
        commit_retry_delays: Sequence[float] = COMMIT_RETRY_DELAYS,
        seam: Seam | None = None,
        whoami: Callable[[str], WhoAmI] | None = None,
    ) -> None:
        self._store = store
        # Whoami (cached by the service): asked here only when the policy names workspaces.
        self._whoami = whoami
        # Where the refresh POST runs (the service's one loop thread, and its HTTP session).
        self._seam = seam or Seam()
        # A fingerprint that is a network round trip is never asked on the caller's loop.
        self._local_fingerprint = not _remote_fingerprint(store)
        self._clock = clock
        self._endpoint = endpoint
        self._options = options = options or AuthOptions()
        self._issuer = options.issuer
        self._commit_retry_delays = tuple(commit_retry_delays)
        # CODEX_API_KEY: used before any stored credential, as the Codex CLI's exec does.
        override = options.override_api_key
        self._override = AccessToken(AuthMode.API_KEY, override) if override else None
        self._policy = options.policy
        self._refresh_timeout = options.refresh_timeout
        self._snapshot: _Snapshot | None = None
        # The refresh token the issuer declared dead, and what it said.
        self._ended: tuple[str, SessionEnded] | None = None
        # Tokens the issuer rotated that could not be saved: (the spent refresh token, record).
        self._unsaved: tuple[str, CredentialRecord] | None = None
        self._inflight: tuple[asyncio.AbstractEventLoop, asyncio.Task[AccessToken]] | None = None

    # -- the API --------------------------------------------------------------------

    async def get_token(self) -> str:
        """The bearer token to send, refreshed first when due."""
        return (await self.auth()).token

    async def auth(self) -> AccessToken:
        """The current credential with its kind and expiry, refreshed first when due.

        On the caller's loop only the hot path runs (the store's fingerprint, the clock);
        reading a changed record and refreshing happen on a worker thread.
        """
        known = self._unchanged()
        if known is not None:
            return known

        return await off_loop(self.fresh) or await self._shared_refresh(force=False)

    def fresh(self) -> AccessToken | None:
        """The current credential while no refresh is due, else None; never waits.

        Raises NotLoggedIn, or PolicyViolation when the login policy forbids the
        credential (it is kept). This is the whole hot path: one ``fingerprint`` of
        the store and one clock read.
        """
        if self._override is not None:
            return self._checked_override()
        snapshot = self._usable_snapshot()
        if self._clock.now() < snapshot.refresh_at:
            return snapshot.current
        return None

    def _unchanged(self) -> AccessToken | None:
        """``fresh()`` without reading the store: None unless the snapshot is still the
        store's, usable and not due (then the caller reads or refreshes off its loop).
        A store whose fingerprint is a network round trip is asked off the loop too."""
        if self._override is not None:
            return self._checked_override()
        snapshot = self._snapshot
        if not self._local_fingerprint:
            return None
        if snapshot is None or snapshot.fingerprint != self._store.fingerprint():
            return None
        if snapshot.refused is None and self._clock.now() < snapshot.refresh_at:
            return snapshot.current
        return None

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Refresh now, whether due or not (an API key is returned as it is).

        ``stale`` is the token a server just refused: when the current token is
        already another one (refreshed meanwhile), that one is returned and
        nothing is sent, so many refused requests cause one refresh, not many.
        Tokens younger than the policy's ``min_token_age_for_forced_refresh`` are
        returned as they are, too.
        """
        if self._override is not None:
            return self._checked_override()  # an API key cannot be refreshed
        import asyncio  # noqa: PLC0415  (see the import block)

        snapshot = await asyncio.to_thread(self._usable_snapshot)  # reads off the caller's loop
        current = snapshot.current
        assert current is not None  # noqa: S101  (_usable_snapshot raised otherwise)
        if current.mode is AuthMode.API_KEY or (stale is not None and current.token != stale):
            return current
        if self._too_young_to_force(snapshot):
            return current
        return await self._shared_refresh(force=True)

    # -- reading ------------------------------------------------------------------

    def _checked_override(self) -> AccessToken:
        assert self._override is not None  # noqa: S101  (callers check)
        choice = self._choose(None)  # the override wins over anything stored
        if choice.refusal is not None:
            raise _refused(choice.refusal)
        return self._override

    def _usable_snapshot(self) -> _Snapshot:
        """The current snapshot; raises when there is nothing the policy lets us hand out."""
        snapshot = self._current_snapshot()
        if snapshot.refused is not None:
            raise _refused(snapshot.refused)
        if snapshot.current is None:
            raise NotLoggedIn()  # unreachable: a snapshot without a credential says why
        return snapshot

    def _current_snapshot(self) -> _Snapshot:
        fingerprint = self._store.fingerprint()
        snapshot = self._snapshot
        if snapshot is None or snapshot.fingerprint != fingerprint:
            snapshot = self._snapshot = self._read(fingerprint)
        return snapshot

    def _read(self, fingerprint: Hashable) -> _Snapshot:
        loaded = self._store.load()
        record = loaded.record if loaded else None
        choice = self._choose(record)
        if choice.refusal is not None:
            return _Snapshot(fingerprint, record, None, refused=choice.refusal)
        auth = choice.auth
        if isinstance(auth, ChatGptAuth):
            tokens = auth.tokens
            try:
                check_issuer(tokens, self._issuer)  # refused now, not when a refresh is due
            except IssuerMismatch as exc:
                return _Snapshot(fingerprint, record, None, refused=exc)
            current = AccessToken(
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
            return _Snapshot(fingerprint, record, AccessToken(AuthMode.API_KEY, auth.api_key))
        if isinstance(auth, AccessTokenAuth):
            return self._access_token_snapshot(fingerprint, record, auth, choice.source or "")
        return _Snapshot(fingerprint, record, None)

    def _access_token_snapshot(
        self,
        fingerprint: Hashable,
        record: CredentialRecord | None,
        auth: AccessTokenAuth,
        source: str,
    ) -> _Snapshot:
        """An access token: never due. Its workspace is asked of whoami only when the
        policy restricts workspaces (else the bearer alone needs no round trip: the
        service asks whoami for the headers, once per process)."""
        policy = self._options.login_policy
        account = None
        if policy.workspaces is not None and self._whoami is not None:
            account = self._whoami(auth.token).account_id
            try:
                policy.check_access_token_workspace(account, source)
            except WorkspaceRefused as exc:
                return _Snapshot(fingerprint, record, None, refused=exc)
        return _Snapshot(
            fingerprint, record, AccessToken(AuthMode.CHATGPT, auth.token, None, account)
        )

    def _choose(self, record: CredentialRecord | None) -> Choice:
        return self._options.choose(record, location=self._store.location)

    def _too_young_to_force(self, snapshot: _Snapshot) -> bool:
        tokens = snapshot.tokens
        if tokens is None or snapshot.record is None:
            return False
        return self._policy.too_young_to_force(
            tokens, snapshot.record.last_refresh, self._clock.now()
        )

    # -- refreshing ------------------------------------------------------------------

    async def _shared_refresh(self, *, force: bool) -> AccessToken:
        import asyncio  # noqa: PLC0415  (see the import block)

        loop = asyncio.get_running_loop()
        task = self._running_refresh(loop)
        if task is None:
            task = loop.create_task(self._refresh(force=force))
            self._inflight = (loop, task)
            task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _running_refresh(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[AccessToken] | None:
        inflight = self._inflight
        if inflight is None or inflight[0] is not loop or inflight[1].done():
            return None
        return inflight[1]

    def _forget(self, task: asyncio.Task[AccessToken]) -> None:
        """Drop a finished refresh: a kept task would keep its error's frames alive."""
        if self._inflight is not None and self._inflight[1] is task:
            self._inflight = None

    async def _refresh(self, *, force: bool) -> AccessToken:

        seen = await off_loop(self._current_snapshot)
        ended = self._ended
        if ended is not None and seen.tokens and seen.tokens.refresh_token == ended[0]:
            raise _again(ended[1])  # this session is over; don't ask the issuer again
        snapshot = await off_loop(self._locked_refresh, seen, force)
        self._snapshot = snapshot
        if snapshot.refused is not None:
            raise _refused(snapshot.refused)
        if snapshot.current is None:
            raise NotLoggedIn()  # unreachable: a snapshot without a credential says why
        return snapshot.current

    def _locked_refresh(self, seen: _Snapshot, force: bool) -> _Snapshot:
        """Steps 2 and 3 of the protocol, in a worker thread that holds the writer lock."""
        with self._store.exclusive():
            now_seen = self._read(self._store.fingerprint())
            if not self._still_wanted(seen, now_seen, force=force):
                return now_seen
            record, tokens = now_seen.record, now_seen.tokens
            assert record is not None  # noqa: S101  (_still_wanted checked both)
            assert tokens is not None  # noqa: S101
            unsaved = self._unsaved
            if unsaved is not None and unsaved[0] == tokens.refresh_token:
                _log().debug("saving the tokens an earlier refresh could not save")
                self._commit(unsaved[1], tokens.refresh_token)
                return self._read(self._store.fingerprint())
            # Only to the issuer that issued these tokens; a conflicting setting sends nothing.
            issuer = bind(tokens, self._issuer)
            with self._reserved(record):
                self._confirm_lease()
                _log().debug("refreshing the ChatGPT tokens at %s", issuer.issuer)
                grant = self._post_refresh(issuer, tokens.refresh_token)
                record = refreshed_record(record, grant, self._clock.now())
                self._commit(record, tokens.refresh_token)
            return self._read(self._store.fingerprint())

    def _still_wanted(self, seen: _Snapshot, now_seen: _Snapshot, *, force: bool) -> bool:
        """Step 2: whether the record read under the lock still calls for the refresh."""
        if now_seen.record is None or now_seen.tokens is None or now_seen.current is None:
            return False  # logged out meanwhile
        if now_seen.current.mode is not AuthMode.CHATGPT:
            return False  # switched to an API key meanwhile
        if _token_pair(now_seen.tokens) != _token_pair(seen.tokens):
            _log().debug("another process refreshed; adopting its tokens")
            return False
        if force:
            return not self._too_young_to_force(now_seen)
        return self._clock.now() >= now_seen.refresh_at

    def _post_refresh(self, issuer: IssuerConfig, refresh_token: str) -> TokenGrant:
        """POST on the seam's loop, this worker thread waiting for it with the lock held.

        The caller's loop is never needed while the lock is held, so code on that
        loop that takes the store lock cannot deadlock with us; and a caller that
        gives up does not stop a refresh whose new tokens must be committed.
        """
        import asyncio  # noqa: PLC0415  (see the import block)

        posted = self._endpoint.refresh(issuer, refresh_token=refresh_token)
        try:
            return self._seam.run(asyncio.wait_for(posted, self._refresh_timeout))
        except SessionEnded as exc:
            self._ended = (refresh_token, exc)
            raise
        except TimeoutError as exc:
            raise TransientTokenError(
                f"the refresh took longer than {self._refresh_timeout:g} s; "
                "the stored login is unchanged, try again later"
            ) from exc

    def _reserved(self, record: CredentialRecord) -> AbstractContextManager[None]:
        """Room for the commit, taken before the refresh token is spent (a store that
        writes no local disk, the keyring, Redis or memory, reserves nothing)."""
        from codex_login.domain.ports import ReservingStore  # noqa: PLC0415  (refreshes only)

        if isinstance(self._store, ReservingStore):
            return self._store.reserve(record)
        return contextlib.nullcontext()

    def _confirm_lease(self) -> None:
        """A lease can expire while held (a paused process): check it before spending the
        refresh token, which another holder may have rotated meanwhile."""
        from codex_login.domain.ports import LeasedStore  # noqa: PLC0415  (refreshes only)

        if not isinstance(self._store, LeasedStore):
            return
        try:
            self._store.confirm_exclusive()
        except LeaseLost as exc:
            raise TransientTokenError(
                f"{exc}; no refresh was sent, so nothing was spent: try again"
            ) from exc

    def _commit(self, record: CredentialRecord, spent: str) -> None:
        """Save tokens the issuer has already rotated, trying again for a few seconds.

        The old refresh token is probably spent now, so these tokens must not be
        lost: if every attempt fails they are kept in memory, saved by this
        process's next refresh, and the error says what happened.
        """
        for delay in (*self._commit_retry_delays, None):
            try:
                self._store.save(record)
            except LeaseLost as exc:  # another writer's record stands: never overwrite it
                raise LeaseLost(
                    f"the issuer sent new tokens but they were not saved ({exc}): another "
                    "writer's newer record stands and these tokens were dropped; the refresh "
                    "token they replaced is spent, so a login that still holds it (an account "
                    "kept aside, say) must sign in again"
                ) from exc
            except UntrustedPath as exc:  # no retry cures it: a person must fix the set-up
                self._unsaved = (spent, record)
                raise UntrustedPath(
                    f"the issuer sent new tokens but they were not saved ({exc}); the "
                    f"stored refresh token is probably spent: {ONLY_HERE}"
                ) from exc
            except StorageError as exc:
                if delay is not None:
                    _log().info("saving the refreshed tokens failed, trying again: %s", exc)
                    time.sleep(delay)
                    continue
                self._unsaved = (spent, record)
                raise TokensUnsaved(
                    f"the issuer sent new tokens but they could not be saved ({exc}); the "
                    f"stored refresh token is probably spent: {ONLY_HERE}"
                ) from exc
            else:
                self._unsaved = None
                return


def _remote_fingerprint(store: CredentialStore) -> bool:
    """Whether ``store`` is a ``RemoteFingerprintStore`` whose fingerprint is a round trip
    (asked of the attribute: loading domain.ports would cost ``token`` its start-up)."""
    return getattr(store, "fingerprint_is_remote", False) is True


def _refused(refusal: CodexLoginError) -> CodexLoginError:
    """A new error each time, with the same message and fields (see ``_again``)."""
    fresh = type(refusal).__new__(type(refusal))
    fresh.args = refusal.args
    fresh.__dict__.update(refusal.__dict__)
    return fresh


def _again(ended: SessionEnded) -> SessionEnded:
    """A new error each time: re-raising one object would grow its traceback forever."""
    return SessionEnded(str(ended), status=ended.status, error_code=ended.error_code)


def _token_pair(tokens: TokenData | None) -> tuple[str, str] | None:
    return None if tokens is None else (tokens.access_token, tokens.refresh_token)
