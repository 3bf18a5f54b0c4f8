"""Text from elsewhere, shown on a terminal: no control character gets through, nothing
else changes, and JSON passed through again keeps its meaning."""

from __future__ import annotations

import json
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from codex_login.domain.printable import printable

# What a terminal or a bidi-aware renderer obeys: every Cc character (C0, DEL, C1) and
# the format characters that reorder or break lines.
REORDERING = set("\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e")
REORDERING |= set("\u2066\u2067\u2068\u2069")


def obeyed(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in REORDERING


# Text with plenty of what matters: controls, escapes' own characters, and ordinary letters.
hostile = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\x1b\x07\r\n\t\x00\x7f\x9b\x85\u202e\u2028\\u]52;[2K"),
    )
)


@given(text=hostile)
@example(text="\x1b]52;c;ZWNobyBvd25lZA==\x07")  # OSC 52: write the clipboard
@example(text="ok\r\x1b[2Kforged")  # rewrite the line being read
def test_nothing_a_terminal_obeys_gets_through(text: str) -> None:
    assert [c for c in printable(text) if obeyed(c)] == []


@given(text=hostile)
def test_kept_newlines_are_the_only_control_left(text: str) -> None:
    shown = printable(text, keep_newlines=True)
    assert [c for c in shown if obeyed(c) and c != "\n"] == []
    assert shown.count("\n") == text.count("\n")


@given(text=st.text(st.characters(codec="utf-8").filter(lambda c: not obeyed(c))))
def test_text_without_controls_is_unchanged(text: str) -> None:
    assert printable(text) == text


def test_each_control_is_shown_as_a_visible_escape() -> None:
    assert printable("a\x1b[2Kb\r\n\x9b") == "a\\u001b[2Kb\\u000d\\u000a\\u009b"


@given(
    value=st.recursive(
        st.none() | hostile, lambda inner: st.lists(inner) | st.dictionaries(hostile, inner)
    )
)
def test_json_keeps_its_meaning(value: object) -> None:
    """`--json` output passes the same guard: JSON's own escape form changes nothing."""
    for ascii_only in (True, False):
        written = json.dumps(value, indent=2, ensure_ascii=ascii_only)
        assert json.loads(printable(written, keep_newlines=True)) == value
