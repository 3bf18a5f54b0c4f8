"""Signing out: revoke at the issuer (best effort), then delete the stored credentials.

All of it happens under the writers' lock: a refresh landing between reading
the token and deleting the record would otherwise leave its new refresh token
alive at the issuer, unrevoked.
"""

from __future__ import annotations

import logging

import attrs

from codex_login.application.seam import Seam, off_loop
from codex_login.domain.errors import (
    CodexLoginError,
    CredentialsError,
    LoginKept,
    MalformedCredentials,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import IssuerConfig, bind
from codex_login.domain.ports import CredentialStore, TokenEndpoint
from codex_login.domain.tokens import TokenData

log = logging.getLogger(__name__)


@attrs.frozen(repr=False)
class LogoutResult(FieldsRepr):
    removed: bool
    revoked: bool = False
    revoke_error: str | None = None
    # Why the stored record could not be used (a malformed auth.json, or with --local any
    # record that cannot be read): it was deleted without a revoke.
    unreadable: str | None = None


async def logout(
    *,
    store: CredentialStore,
    endpoint: TokenEndpoint,
    issuer: IssuerConfig,
    revoke: bool,
    seam: Seam,
) -> LogoutResult:
    """Revoke the refresh token (or access token) unless told not to; always delete.

    Revoking signs out every machine sharing the grant, hence ``revoke=False``
    for ``--local``. The token goes only to the issuer that issued it; an
    explicitly configured issuer that differs stops the logout before anything
    is sent or deleted. A failed revoke never blocks the logout; a malformed
    file is deleted without revoking. A record that cannot be read now (a
    permission, an I/O error) may hold a sound login: it is kept (``LoginKept``)
    unless ``revoke`` is False; a store that cannot be used at all raises its own
    error, nothing deleted. The revoke runs on ``seam``'s loop.
    """
    return await off_loop(_locked_logout, store, endpoint, issuer, revoke, seam)


def _locked_logout(
    store: CredentialStore, endpoint: TokenEndpoint, issuer: IssuerConfig, revoke: bool, seam: Seam
) -> LogoutResult:
    if _nothing_stored(store):
        # Nothing to revoke: the store's own delete removes what a killed writer left
        # (a file store takes its locks only then), so a logout with nothing stored
        # creates no lock file, nor the directory that would hold it.
        return LogoutResult(store.delete())
    with store.exclusive():
        try:
            loaded = store.load()
        except CodexLoginError as exc:
            if not revoke or isinstance(exc, CredentialsError):
                return LogoutResult(store.delete(), unreadable=_problem(exc))
            # The record may hold a sound login: deleted unread, it could never be revoked.
            if isinstance(exc.__cause__, OSError):  # the system refused the read
                raise LoginKept(f"{exc}; the login was kept, neither revoked nor deleted") from exc
            raise  # the store itself is unusable (its package, its server): nothing done
        tokens = loaded.record.tokens if loaded else None
        revoked, error = False, None
        if revoke and tokens is not None:
            # On the seam's loop: the caller's loop is never needed under the lock.
            revoked, error = seam.run(_revoke(endpoint, bind(tokens, issuer), tokens))
        return LogoutResult(store.delete(), revoked, error)


def _problem(exc: CodexLoginError) -> str:
    return exc.problem if isinstance(exc, MalformedCredentials) else str(exc)


def _nothing_stored(store: CredentialStore) -> bool:
    """Read without the lock: nothing stored, and nothing unreadable (a malformed
    record is deleted under the lock, as ever)."""
    try:
        return store.load() is None
    except CodexLoginError:
        return False


async def _revoke(
    endpoint: TokenEndpoint, issuer: IssuerConfig, tokens: TokenData
) -> tuple[bool, str | None]:
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token
        else (tokens.access_token, "access_token")
    )
    try:
        await endpoint.revoke(issuer, token=token, hint=hint)
    except CodexLoginError as exc:
        log.info("revoking failed: %s", exc)
        return False, str(exc)
    return True, None
