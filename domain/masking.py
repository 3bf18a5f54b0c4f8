"""Showing an API key without revealing it, and keeping secrets out of messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
