"""Which token-endpoint failures end the session and which may pass."""

from __future__ import annotations

from codex_login.domain.errors import SessionEnded, TokenEndpointError, TransientTokenError

# Error codes after which a refresh token will never work again.
_SESSION_ENDED = {
    "refresh_token_expired": "your ChatGPT session has expired",
    "refresh_token_reused": (
        "your refresh token was already used, probably by another program sharing this login"
    ),
    "refresh_token_invalidated": (
        "your refresh token was revoked (signed out elsewhere, or the password changed)"
    ),
    "invalid_grant": "the issuer no longer accepts your refresh token",
}


def refresh_failure(
    status: int | None,
    error_code: str | None,
    description: str | None,
    *,
    readable: bool = True,
) -> TokenEndpointError:
    """Classify a failed refresh: SessionEnded (log in again) or TransientTokenError (retry).

    ``readable`` is False when the answer's body was not an OAuth error document
    (an HTML page from a proxy, say): only a 401 is then taken at its word.
    """
    detail = _detail(status, error_code, description)
    if error_code in _SESSION_ENDED:
        return SessionEnded(
            f"{_SESSION_ENDED[error_code]} ({detail})",
            status=status,
            error_code=error_code,
        )
    if status == 401:
        return SessionEnded(
            f"the issuer rejected the refresh token ({detail})",
            status=status,
            error_code=error_code,
        )
    if status is not None and 400 <= status < 500 and status != 429 and readable:
        return TokenEndpointError(
            f"the issuer refused the refresh ({detail})", status=status, error_code=error_code
        )
    return TransientTokenError(
        f"could not refresh the token ({detail}); the stored login is unchanged, try again later",
        status=status,
        error_code=error_code,
    )


def _detail(status: int | None, error_code: str | None, description: str | None) -> str:
    parts = [f"HTTP {status}" if status is not None else "no answer"]
    if error_code:
        parts.append(error_code)
    if description:
        parts.append(description)
    return ": ".join(parts)
