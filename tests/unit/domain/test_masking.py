"""Scrubbing secrets out of messages: none survives, nothing else changes."""

from __future__ import annotations

from hypothesis import assume, example, given
from hypothesis import strategies as st

from codex_login.domain.masking import scrub

# Characters that make overlaps, repeats and near-misses likely, plus the mask's own.
ALPHABET = st.sampled_from("ab*-. ")
secret = st.text(ALPHABET, min_size=8, max_size=16)
filler = st.text(ALPHABET, max_size=12)


@given(
    secrets=st.lists(secret, min_size=1, max_size=4),
    picks=st.lists(st.tuples(filler, st.integers(min_value=0)), max_size=6),
    tail=filler,
)
# Masking one secret must not piece together another: "aaaaaaaa" + "bbbbbb" -> "***bbbbbb".
@example(secrets=["***bbbbbb", "aaaaaaaa"], picks=[("", 1)], tail="bbbbbb")
def test_no_secret_survives(secrets: list[str], picks: list[tuple[str, int]], tail: str) -> None:
    text = "".join(other + secrets[i % len(secrets)] for other, i in picks) + tail
    scrubbed = scrub(text, secrets)
    assert not [s for s in secrets if s in scrubbed]


@given(text=st.text(), secrets=st.lists(st.text()))
def test_text_without_secrets_is_unchanged(text: str, secrets: list[str]) -> None:
    assume(not [s for s in secrets if len(s) >= 8 and s in text])
    assert scrub(text, secrets) == text


def test_the_longest_secret_goes_whole() -> None:
    assert scrub("bad rt-0123456789abc", ["rt-01234567", "rt-0123456789abc"]) == "bad ***"


def test_every_occurrence_is_replaced() -> None:
    assert scrub("sk-secret-1 then sk-secret-1.", ["sk-secret-1"]) == "*** then ***."


def test_short_and_empty_secrets_leave_words_alone() -> None:
    assert scrub("the refresh token expired", ["", "token", "expired"]) == (
        "the refresh token expired"
    )
