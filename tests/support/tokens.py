"""Unsigned JWTs shaped like the issuer's, from the testing kit (``codex_login.testing.tokens``)."""

from __future__ import annotations

from codex_login.testing.tokens import access_token, b64url, id_token, make_jwt

__all__ = ["access_token", "b64url", "id_token", "make_jwt"]
