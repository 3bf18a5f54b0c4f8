"""Signing out: revoke at the issuer (best effort), then delete the stored credentials."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import attrs

from codex_login.application.credentials import record_or_none
from codex_login.domain.errors import CodexLoginError
from codex_login.domain.ports import CredentialStore, TokenEndpoint

log = logging.getLogger(__name__)


@attrs.frozen
class LogoutResult:
    removed: bool
    revoked: bool = False
    revoke_error: str | None = None


async def logout(
    store: CredentialStore, endpoint_factory: Callable[[], TokenEndpoint], *, revoke: bool
) -> LogoutResult:
    """Revoke the refresh token (or access token) unless told not to; always delete.

    Revoking signs out every machine sharing the grant, hence ``revoke=False``
    for ``--local``. A failed revoke never blocks the logout; a malformed file
    is deleted without revoking.
    """
    revoked, error = False, None
    if revoke:
        revoked, error = await _revoke_stored(store, endpoint_factory)
    removed = await asyncio.to_thread(store.delete)  # waits for the lock off the event loop
    return LogoutResult(removed, revoked, error)


async def _revoke_stored(
    store: CredentialStore, endpoint_factory: Callable[[], TokenEndpoint]
) -> tuple[bool, str | None]:
    previous = record_or_none(store)  # a malformed file is deleted without revoking
    tokens = previous.tokens if previous else None
    if tokens is None:
        return False, None
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token
        else (tokens.access_token, "access_token")
    )
    try:
        await endpoint_factory().revoke(token=token, hint=hint)
    except CodexLoginError as exc:
        log.info("revoking failed: %s", exc)
        return False, str(exc)
    return True, None
