"""Showing an API key without revealing it, keeping secrets out of messages, and taking
one in (a key or token given on stdin)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from codex_login.domain.errors import InvalidApiKey

MIN_MASKED_LENGTH = 14
# Shorter strings are not real secrets, and masking them would mangle ordinary words.
MIN_SCRUBBED_LENGTH = 8
REDACTED = "***"


def mask_api_key(key: str) -> str:
    """First 8 and last 5 characters of keys of 14+ characters; ``***`` otherwise."""
    if len(key) < MIN_MASKED_LENGTH:
        return "***"
    return f"{key[:8]}***{key[-5:]}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret of 8+ characters replaced by ``***``.

    Longest first, so a secret that contains another goes whole. The pass repeats until
    nothing matches, so that no replacement can piece together another secret; every
    pass shortens the text, so it ends.
    """
    wanted = sorted({s for s in secrets if len(s) >= MIN_SCRUBBED_LENGTH}, key=len, reverse=True)
    if not wanted:
        return text
    pattern = re.compile("|".join(map(re.escape, wanted)))
    while True:
        scrubbed = pattern.sub(REDACTED, text)
        if scrubbed == text:
            return text
        text = scrubbed


def one_line_secret(raw: str, *, what: str, one: str, empty: type[Exception]) -> str:
    """``raw`` trimmed of surrounding whitespace; ``empty`` when nothing is left, and
    InvalidApiKey when inner whitespace or a control character says it is not one secret
    (``what``: "the API key"; ``one``: "key", as the message asks for exactly one)."""
    secret = raw.strip()
    if not secret:
        raise empty(f"{what} is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in secret):
        raise InvalidApiKey(
            f"{what} contains spaces, line breaks or control characters; "
            f"give exactly one {one} on one line"
        )
    return secret
