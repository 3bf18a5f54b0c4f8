"""`token`'s patience with a store that refused the issuer's new tokens: what it tries, for
how long, and what it says at the end (entrypoints/cli/token.py, ``_until_saved``)."""

from __future__ import annotations

import pytest

from codex_login.domain.errors import SessionEnded, StorageError, TokensUnsaved
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken
from codex_login.entrypoints.cli import token

UNSAVED = TokensUnsaved("the issuer sent new tokens but they could not be saved (x)")
SAVED = AccessToken(AuthMode.CHATGPT, "at-saved")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token, "SAVE_PATIENCE", 0.2)
    monkeypatch.setattr(token, "SAVE_PAUSE", 0.0)


class Refresh:
    """A refresh that answers ``outcomes`` in turn, the last one for ever after."""

    def __init__(self, *outcomes: Exception | AccessToken) -> None:
        self.outcomes = outcomes
        self.calls = 0

    async def __call__(self) -> AccessToken:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_the_store_failing_after_the_tokens_were_kept_is_waited_out_then_they_are_saved() -> None:
    refresh = Refresh(UNSAVED, StorageError("cannot reach Redis"), SAVED)
    said: list[str] = []
    assert token._until_saved(refresh, said.append) is SAVED
    assert refresh.calls == 3
    assert said == [
        f"{UNSAVED}; trying to save them for up to 0.2 s (Ctrl-C gives up, and they are lost)"
    ]


def test_at_the_deadline_the_lost_tokens_are_what_is_said_not_the_last_read() -> None:
    refresh = Refresh(UNSAVED, StorageError("cannot reach Redis"))
    with pytest.raises(TokensUnsaved) as raised:
        token._until_saved(refresh, lambda _: None)
    assert raised.value is UNSAVED
    assert str(raised.value.__cause__) == "cannot reach Redis"
    assert refresh.calls > 2  # it kept trying until the deadline


@pytest.mark.parametrize("first", [StorageError("cannot reach Redis"), SessionEnded("ended")])
def test_anything_before_tokens_were_kept_is_said_at_once(first: Exception) -> None:
    refresh = Refresh(first)
    with pytest.raises(type(first)):
        token._until_saved(refresh, lambda _: None)
    assert refresh.calls == 1


def test_a_session_that_ended_meanwhile_is_not_retried() -> None:
    refresh = Refresh(UNSAVED, SessionEnded("ended"))
    with pytest.raises(SessionEnded):
        token._until_saved(refresh, lambda _: None)
    assert refresh.calls == 2
