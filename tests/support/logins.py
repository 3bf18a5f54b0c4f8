"""auth.json files for token-lifecycle tests, and the environment that points at an issuer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import clean_env
from support.fake_issuer import FakeIssuer
from support.tokens import access_token, id_token


def issuer_env(home: Path, issuer: FakeIssuer, profile: str = "openai") -> dict[str, str]:
    """The fake issuer stands in for OpenAI's: a login there names OpenAI's client id, as
    any issuer but the default one needs its client id named."""
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.url,
        CODEX_LOGIN_ISSUER_PROFILE=profile,
        CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID,
    )


def write_login(
    home: Path, refresh_token: str, *, expires_in: timedelta, issuer: str | None = None
) -> bytes:
    home.mkdir(exist_ok=True)
    document: dict[str, Any] = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": id_token(issuer=issuer),
            "access_token": access_token(datetime.now(UTC) + expires_in),
            "refresh_token": refresh_token,
            "account_id": "acc-123",
        },
        "last_refresh": "2026-11-20T10:00:00.000000000Z",
        "note": "kept",
    }
    data = json.dumps(document, indent=2).encode()
    (home / "auth.json").write_bytes(data)
    return data


def stored(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    return document
