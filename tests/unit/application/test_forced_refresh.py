"""A forced refresh of tokens issued seconds ago answers them and posts nothing.

A client that forces refreshes in a loop (the broker's ``POST /v1/token/refresh``, an
HTTP client's retry after every 401) must not make the issuer rotate the login at will:
one refresh per ``min_token_age_for_forced_refresh``, whatever it sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.auth_manager import AuthManager
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import MIN_TOKEN_AGE_FOR_FORCED_REFRESH, RefreshPolicy
from codex_login.domain.tokens import TokenData
from support.fakes import NOW, FakeClock, FakeTokenEndpoint
from support.records import chatgpt_record, chatgpt_tokens
from support.tokens import access_token

WINDOW = MIN_TOKEN_AGE_FOR_FORCED_REFRESH
POLICY = RefreshPolicy()
# A JWT's iat is whole seconds: the rule's properties are checked at a whole second.
WHOLE = NOW.replace(microsecond=0)

# -- the rule ----------------------------------------------------------------------------

offsets = st.integers(-30 * 86400, 30 * 86400).map(lambda seconds: timedelta(seconds=seconds))
near = st.integers(-8, 8).map(lambda seconds: timedelta(seconds=seconds))  # around the edges
maybe_offsets = st.none() | offsets | near | st.timedeltas(-WINDOW * 2, WINDOW * 2)


def tokens_issued(offset: timedelta | None) -> TokenData:
    """Tokens whose access token says ``iat`` = WHOLE + offset (None: no ``iat``)."""
    issued_at = None if offset is None else WHOLE + offset
    token = access_token(WHOLE + timedelta(hours=1), issued_at=issued_at)
    return attrs.evolve(chatgpt_tokens(), access_token=token)


def within(offset: timedelta | None) -> bool:
    return offset is not None and abs(offset) < WINDOW


@given(last_refresh=maybe_offsets, iat=st.none() | offsets | near)
def test_young_means_issued_within_the_window_by_either_time(
    last_refresh: timedelta | None, iat: timedelta | None
) -> None:
    """Either side of now: clocks a little apart keep the guard; far apart, it steps aside."""
    refreshed = None if last_refresh is None else WHOLE + last_refresh
    assert POLICY.too_young_to_force(tokens_issued(iat), refreshed, WHOLE) is (
        within(last_refresh) or within(iat)
    )


@given(age=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_a_token_is_young_until_the_window_has_passed(age: timedelta) -> None:
    tokens = tokens_issued(None)
    assert POLICY.too_young_to_force(tokens, NOW - age, NOW) is (age < WINDOW)


def test_without_any_issue_time_the_guard_stays_out_of_the_way() -> None:
    assert not POLICY.too_young_to_force(tokens_issued(None), None, NOW)


def test_the_window_is_a_setting() -> None:
    none = RefreshPolicy(min_token_age_for_forced_refresh=timedelta(0))
    assert not none.too_young_to_force(tokens_issued(timedelta(0)), NOW, NOW)
    longer = RefreshPolicy(min_token_age_for_forced_refresh=timedelta(minutes=1))
    assert longer.too_young_to_force(tokens_issued(None), NOW - timedelta(seconds=30), NOW)


# -- the auth manager applies it ----------------------------------------------------------


class HookedStore(MemoryCredentialStore):
    """Runs ``on_fingerprint[n]`` just before the n-th look at the store (0-based)."""

    def __init__(self, record: CredentialRecord | None = None) -> None:
        super().__init__(record)
        self.on_fingerprint: dict[int, Callable[[], object]] = {}
        self.looks = 0

    def fingerprint(self) -> Hashable:
        hook = self.on_fingerprint.pop(self.looks, None)
        self.looks += 1
        if hook is not None:
            hook()
        return super().fingerprint()


def manager_for(
    store: MemoryCredentialStore, clock: FakeClock
) -> tuple[AuthManager, FakeTokenEndpoint]:
    endpoint = FakeTokenEndpoint(clock)
    return AuthManager(store=store, clock=clock, endpoint=endpoint), endpoint


def test_a_forced_refresh_just_after_a_refresh_answers_the_new_token() -> None:
    clock = FakeClock()
    store = HookedStore(chatgpt_record())
    clock.advance(WINDOW)  # the stored login is old enough: the first forced refresh posts
    manager, endpoint = manager_for(store, clock)
    first = asyncio.run(manager.refresh())
    again = asyncio.run(manager.refresh(stale=first.token))
    assert again == first
    assert endpoint.refreshed == ["rt-1"]


def test_a_hundred_forced_refreshes_cost_one_until_the_window_passes() -> None:
    clock = FakeClock()
    store = HookedStore(chatgpt_record())
    clock.advance(WINDOW)
    manager, endpoint = manager_for(store, clock)
    current = asyncio.run(manager.auth())
    for _ in range(100):  # each time with the newest token, as a hostile client would
        current = asyncio.run(manager.refresh(stale=current.token))
        clock.advance(WINDOW / 200)  # 100 calls in half the window
    assert len(endpoint.refreshed) == 1
    clock.advance(WINDOW / 2)
    asyncio.run(manager.refresh(stale=current.token))
    assert len(endpoint.refreshed) == 2


def test_a_login_made_seconds_ago_is_not_forced_to_refresh() -> None:
    clock = FakeClock()
    manager, endpoint = manager_for(HookedStore(chatgpt_record()), clock)  # saved at NOW
    clock.advance(WINDOW - timedelta(microseconds=1))
    current = asyncio.run(manager.auth())
    assert asyncio.run(manager.refresh(stale=current.token)) == current
    assert endpoint.refreshed == []


def test_tokens_another_process_committed_just_before_our_lock_are_not_refreshed_again() -> None:
    """The check is made again under the lock: tokens that became current between our
    first look and the refresh's own read are young, and are answered as they are."""
    clock = FakeClock()
    store = HookedStore(chatgpt_record())
    clock.advance(WINDOW)  # the stored login is old enough to force
    manager, endpoint = manager_for(store, clock)
    current = asyncio.run(manager.auth())
    elsewhere = chatgpt_record(
        refresh="rt-from-elsewhere", expires_at=clock.now() + timedelta(hours=1)
    )
    elsewhere = attrs.evolve(elsewhere, last_refresh=clock.now())
    # refresh() looks once (the old tokens: a refresh is allowed); the refresh's own
    # read is the next look, by which time the other process has committed.
    store.on_fingerprint[store.looks + 1] = lambda: store.save(elsewhere)
    answered = asyncio.run(manager.refresh(stale=current.token))
    assert endpoint.refreshed == []
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == elsewhere
    assert elsewhere.tokens is not None
    assert answered.token == elsewhere.tokens.access_token


def test_the_window_is_measured_on_the_clock_port() -> None:
    """A login dated in the clock's past is old, whatever the wall clock says."""
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    manager, endpoint = manager_for(HookedStore(chatgpt_record()), clock)
    asyncio.run(manager.refresh())
    assert endpoint.refreshed == ["rt-1"]
