"""Waiting for the Redis lease, without a server: the loop alone, fed by a fake attempt."""

from __future__ import annotations

import pytest

from codex_login.adapters import store_core
from codex_login.adapters.redis import lease
from codex_login.domain.errors import LockTimeout


def test_the_version_read_under_the_lease_is_returned_once_it_is_taken() -> None:
    answers = iter([None, None, 7])
    notices: list[str] = []
    version = lease.wait_for(lambda: next(answers), lock="L", timeout=5.0, notify=notices.append)
    assert version == 7
    assert notices == []


def test_a_lease_never_given_ends_in_a_lock_timeout_naming_the_lock_and_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_core, "WAIT_NOTICE_AFTER", 0.0)
    notices: list[str] = []
    with pytest.raises(LockTimeout, match=r"waiting for the lease L .*CODEX_LOGIN_LOCK_TIMEOUT"):
        lease.wait_for(lambda: None, lock="L", timeout=0.05, notify=notices.append)
    assert len(notices) == 1
    assert notices[0].startswith("Waiting for the lease L held by another writer")


def test_the_backoff_holds_across_the_slices_a_stoppable_wait_is_cut_into(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wait Ctrl-C can stop tries in short slices; each must not start with a try of
    its own, or the waiters would poll Redis every slice instead of backing off."""
    monkeypatch.setattr(lease, "FIRST_BACKOFF", 60.0)
    tries: list[None] = []

    def refused() -> int | None:
        tries.append(None)
        return None

    backoff = lease._Backoff(refused)
    assert backoff.attempt(0.0) is False  # the first try is at once
    for _ in range(3):
        assert backoff.attempt(store_core.STOP_CHECK_EVERY) is False
    assert len(tries) == 1  # the next is at least 30 s away
