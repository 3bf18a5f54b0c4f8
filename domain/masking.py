"""Showing an API key without revealing it."""

from __future__ import annotations

MIN_MASKED_LENGTH = 14


def mask_api_key(key: str) -> str:
    """First 8 and last 5 characters of keys of 14+ characters; ``***`` otherwise."""
    if len(key) < MIN_MASKED_LENGTH:
        return "***"
    return f"{key[:8]}***{key[-5:]}"
