"""Text from elsewhere made safe to show on a terminal.

A claim in an ID token, a device code, an issuer's error text, a name in the store: all
are chosen by someone else, and a terminal obeys the control characters in them. ESC ] 52
writes the clipboard (OSC 52), CR and ESC [ 2 K rewrite the line a person reads, C1 codes
(U+0080-U+009F) do the same on terminals that take 8-bit controls, and bidirectional
overrides reorder what is shown. ``printable`` shows each such character as a visible
``\\uXXXX`` escape instead; everything else, non-ASCII letters included, is kept.

The escape is JSON's own, so JSON that ``json.dumps`` wrote (which already escapes C0
and, with ``ensure_ascii``, all non-ASCII) keeps its meaning when passed through again.
"""

from __future__ import annotations

# C0, DEL and C1, then the Unicode controls that reorder or break lines: the Arabic letter
# mark, LRM/RLM, the line and paragraph separators, the embeddings and overrides
# (U+202A-U+202E) and the isolates (U+2066-U+2069). A translation table, not a regular
# expression: it costs nothing to build at start-up.
_CONTROLS = (
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x2028, 0x202F),
    *range(0x2066, 0x206A),
)
_IN_A_LINE = {code: f"\\u{code:04x}" for code in _CONTROLS}
_IN_LINES = {code: escape for code, escape in _IN_A_LINE.items() if code != ord("\n")}


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as ``\\uXXXX``.

    Line feeds are escaped too unless ``keep_newlines``: a value from elsewhere that
    starts a new line could pass for a line of ours.
    """
    return text.translate(_IN_LINES if keep_newlines else _IN_A_LINE)
