"""Signing out."""

from __future__ import annotations

from codex_login.domain.ports import CredentialStore


def logout_locally(store: CredentialStore) -> bool:
    """Delete the stored credentials; False when nothing was stored."""
    return store.delete()
