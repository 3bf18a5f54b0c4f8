"""Ready-made credential records and auth.json documents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from codex_login.domain.claims import parse_id_token
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData
from support.fakes import NOW
from support.tokens import access_token, id_token


def chatgpt_tokens(
    *, plan: str | None = "pro", expires_at: datetime | None = None, refresh: str = "rt-1"
) -> TokenData:
    return TokenData(
        id_token=parse_id_token(id_token(plan=plan)),
        access_token=access_token(expires_at or NOW + timedelta(hours=1)),
        refresh_token=refresh,
        account_id="acc-123",
    )


def chatgpt_record(**kwargs: Any) -> CredentialRecord:
    return CredentialRecord(
        auth_mode=AuthMode.CHATGPT, tokens=chatgpt_tokens(**kwargs), last_refresh=NOW
    )


def chatgpt_document(
    *, plan: str = "pro", expires_at: datetime | None = None, **top: Any
) -> dict[str, Any]:
    """A ChatGPT auth.json as the Codex CLI writes it."""
    document: dict[str, Any] = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": id_token(plan=plan),
            "access_token": access_token(expires_at or NOW + timedelta(hours=1)),
            "refresh_token": "rt-1",
            "account_id": "acc-123",
        },
        "last_refresh": "2026-11-28T10:45:43.654531020Z",
    }
    document.update(top)
    return document
