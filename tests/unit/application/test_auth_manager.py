"""The auth manager with a fake clock, a fake endpoint and the memory store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import attrs
import pytest

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.auth_manager import AuthManager
from codex_login.application.options import AuthOptions
from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import (
    NotLoggedIn,
    SessionEnded,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.domain.refresh_policy import MIN_TOKEN_AGE_FOR_FORCED_REFRESH
from codex_login.domain.tokens import TokenData, TokenGrant
from support.fakes import NOW, FakeClock, FakeTokenEndpoint
from support.records import chatgpt_record
from support.tokens import access_token, id_token, make_jwt


class CountingStore(MemoryCredentialStore):
    """Counts reads; ``before_lock`` plays another process acting just before we lock."""

    def __init__(self, record: CredentialRecord | None = None) -> None:
        super().__init__(record)
        self.loads = 0
        self.before_lock: Callable[[], object] | None = None

    def load(self) -> Loaded | None:
        self.loads += 1
        return super().load()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if self.before_lock is not None:
            self.before_lock()
        with super().exclusive():
            yield


def setup(
    record: CredentialRecord | None, *, env_api_key: str | None = None
) -> tuple[AuthManager, CountingStore, FakeTokenEndpoint, FakeClock]:
    clock = FakeClock()
    store = CountingStore(record)
    endpoint = FakeTokenEndpoint(clock)
    manager = AuthManager(
        store=store, clock=clock, endpoint=endpoint, options=AuthOptions(env_api_key=env_api_key)
    )
    return manager, store, endpoint, clock


def expiring_in(minutes: float) -> CredentialRecord:
    return chatgpt_record(expires_at=NOW + timedelta(minutes=minutes))


def stored_tokens(store: MemoryCredentialStore) -> TokenData:
    loaded = store.load()
    assert loaded is not None
    assert loaded.record.tokens is not None
    return loaded.record.tokens


def test_an_api_key_is_handed_out_as_it_is() -> None:
    manager, _, endpoint, _ = setup(CredentialRecord(openai_api_key="sk-key"))
    current = asyncio.run(manager.auth())
    assert (current.mode, current.token, current.authorization) == (
        AuthMode.API_KEY,
        "sk-key",
        "Bearer sk-key",
    )
    assert asyncio.run(manager.refresh()).token == "sk-key"
    assert endpoint.refreshed == []


def test_the_environment_key_when_nothing_is_stored() -> None:
    manager, *_ = setup(None, env_api_key="sk-env")
    assert asyncio.run(manager.get_token()) == "sk-env"


def test_not_logged_in() -> None:
    manager, *_ = setup(None)
    with pytest.raises(NotLoggedIn):
        asyncio.run(manager.get_token())


def test_six_minutes_before_expiry_nothing_is_refreshed() -> None:
    record = expiring_in(6)
    manager, _, endpoint, _ = setup(record)
    assert record.tokens is not None
    assert asyncio.run(manager.get_token()) == record.tokens.access_token
    assert endpoint.refreshed == []


def test_four_minutes_before_expiry_the_token_is_refreshed_and_stored() -> None:
    manager, store, endpoint, clock = setup(expiring_in(4))
    current = asyncio.run(manager.auth())
    assert endpoint.refreshed == ["rt-1"]
    tokens = stored_tokens(store)
    assert current.token == tokens.access_token
    assert tokens.refresh_token == "rt-refreshed-1"
    assert current.expires_at is not None
    assert current.expires_at > clock.now() + timedelta(minutes=59)
    loaded = store.load()
    assert loaded is not None
    assert loaded.record.last_refresh == clock.now()


def test_time_passing_makes_a_refresh_due() -> None:
    manager, _, endpoint, clock = setup(expiring_in(10))
    asyncio.run(manager.get_token())
    clock.advance(timedelta(minutes=6))
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1"]


def test_an_opaque_token_is_refreshed_by_age() -> None:
    tokens = TokenData(parse_id_token(id_token()), "opaque-access", "rt-1", "acc-123")
    fresh = CredentialRecord(tokens=tokens, last_refresh=NOW - timedelta(days=7))
    old = attrs.evolve(fresh, last_refresh=NOW - timedelta(days=9))
    manager, _, endpoint, _ = setup(fresh)
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == []
    manager, _, endpoint, _ = setup(old)
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1"]


def test_refresh_forces_one() -> None:
    manager, _, endpoint, clock = setup(expiring_in(60))
    clock.advance(MIN_TOKEN_AGE_FOR_FORCED_REFRESH)  # a token just refreshed is not forced again
    asyncio.run(manager.refresh())
    assert endpoint.refreshed == ["rt-1"]


def test_the_unchanged_store_is_read_once() -> None:
    manager, store, _, _ = setup(expiring_in(60))
    for _ in range(50):
        asyncio.run(manager.get_token())
    assert store.loads == 1


def test_tokens_changed_on_disk_are_adopted_without_a_request() -> None:
    manager, store, endpoint, _ = setup(expiring_in(60))
    asyncio.run(manager.get_token())
    other = chatgpt_record(refresh="rt-from-elsewhere", expires_at=NOW + timedelta(hours=2))
    store.save(other)
    assert other.tokens is not None
    assert asyncio.run(manager.get_token()) == other.tokens.access_token
    assert endpoint.refreshed == []


def test_a_refresh_done_by_another_process_meanwhile_is_adopted() -> None:
    """Step 2: the tokens changed between the unlocked read and taking the lock."""
    manager, store, endpoint, _ = setup(expiring_in(1))
    winner = chatgpt_record(refresh="rt-winner", expires_at=NOW + timedelta(hours=1))
    store.before_lock = lambda: store.save(winner)  # committed just before we got the lock
    assert winner.tokens is not None
    assert asyncio.run(manager.get_token()) == winner.tokens.access_token
    assert endpoint.refreshed == []


def test_a_logout_meanwhile_means_not_logged_in() -> None:
    manager, store, endpoint, _ = setup(expiring_in(1))
    store.before_lock = store.delete
    with pytest.raises(NotLoggedIn):
        asyncio.run(manager.get_token())
    assert endpoint.refreshed == []


def test_concurrent_callers_share_one_refresh() -> None:
    manager, _, endpoint, _ = setup(expiring_in(1))

    async def scenario() -> set[str]:
        endpoint.gate = threading.Event()
        callers = [asyncio.create_task(manager.get_token()) for _ in range(20)]
        while not endpoint.refreshed:
            await asyncio.sleep(0)
        endpoint.gate.set()
        return set(await asyncio.gather(*callers))

    tokens = asyncio.run(scenario())
    assert len(tokens) == 1
    assert endpoint.refreshed == ["rt-1"]


@pytest.mark.parametrize(
    "failure",
    [
        SessionEnded("your refresh token was already used; run `codex-login login`", status=401),
        SessionEnded("the issuer no longer accepts your refresh token", status=400),
    ],
)
def test_a_permanent_failure_is_not_retried_until_the_file_changes(failure: SessionEnded) -> None:
    manager, store, endpoint, _ = setup(expiring_in(1))
    endpoint.failure = failure
    for _ in range(3):
        with pytest.raises(SessionEnded):
            asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1"]
    assert stored_tokens(store).refresh_token == "rt-1"  # the record is kept
    store.save(expiring_in(1))  # rewritten, but with the same dead refresh token
    with pytest.raises(SessionEnded):
        asyncio.run(manager.get_token())
    store.save(chatgpt_record(refresh="rt-2", expires_at=NOW + timedelta(minutes=1)))
    endpoint.failure = None  # the user logged in again elsewhere
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1", "rt-2"]


def test_a_transient_failure_leaves_the_record_and_is_retried_later() -> None:
    record = expiring_in(1)
    manager, store, endpoint, _ = setup(record)
    endpoint.failure = TransientTokenError("HTTP 503", status=503)
    with pytest.raises(TransientTokenError):
        asyncio.run(manager.get_token())
    assert store.saved == []
    endpoint.failure = None
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1", "rt-1"]


@pytest.mark.parametrize(
    ("grant", "problem"),
    [
        (TokenGrant(), "has no access_token"),
        (TokenGrant(access_token=make_jwt({"sub": "x"})), "JWT without a usable exp"),
        (
            TokenGrant(access_token=access_token(NOW + timedelta(hours=1)), id_token="nope"),
            "id_token is not a JWT",
        ),
    ],
)
def test_an_unusable_refresh_answer_changes_nothing(grant: TokenGrant, problem: str) -> None:
    manager, store, endpoint, _ = setup(expiring_in(1))
    endpoint.grant = grant
    with pytest.raises(TokenEndpointError, match=problem):
        asyncio.run(manager.get_token())
    assert store.saved == []


def test_an_opaque_refreshed_access_token_is_accepted() -> None:
    manager, store, endpoint, _ = setup(expiring_in(1))
    endpoint.grant = TokenGrant(access_token="opaque-new")
    assert asyncio.run(manager.get_token()) == "opaque-new"
    assert stored_tokens(store).refresh_token == "rt-1"  # not rotated: kept


def test_unknown_fields_survive_a_refresh() -> None:
    record = expiring_in(1)
    assert record.tokens is not None
    record = attrs.evolve(
        record,
        extra={"installation": "x"},
        tokens=attrs.evolve(record.tokens, extra={"kind": "v2"}),
    )
    manager, store, _, _ = setup(record)
    asyncio.run(manager.get_token())
    loaded = store.load()
    assert loaded is not None
    assert loaded.record.extra == {"installation": "x"}
    assert stored_tokens(store).extra == {"kind": "v2"}


def test_fingerprint_is_all_the_hot_path_reads() -> None:
    calls: list[str] = []

    class Spy(CountingStore):
        def fingerprint(self) -> Hashable:
            calls.append("fingerprint")
            return super().fingerprint()

    clock = FakeClock()
    store = Spy(expiring_in(60))
    manager = AuthManager(store=store, clock=clock, endpoint=FakeTokenEndpoint(clock))
    asyncio.run(manager.get_token())
    calls.clear()
    asyncio.run(manager.get_token())
    assert calls == ["fingerprint"]
    assert store.loads == 1


def test_a_refresh_that_hangs_gives_up_after_the_refresh_timeout() -> None:
    clock = FakeClock()
    store = CountingStore(expiring_in(1))
    endpoint = FakeTokenEndpoint(clock)
    manager = AuthManager(
        store=store, clock=clock, endpoint=endpoint, options=AuthOptions(refresh_timeout=0.2)
    )

    async def scenario() -> None:
        endpoint.hang = True  # the issuer never answers
        await manager.get_token()

    with pytest.raises(TransientTokenError, match=r"longer than 0\.2 s"):
        asyncio.run(scenario())
    assert store.saved == []


def test_a_lock_taken_on_the_event_loop_does_not_stall_a_refresh() -> None:
    """A logout on the same loop waits for the refresh's lock; the refresh must still finish."""
    manager, store, endpoint, clock = setup(expiring_in(60))
    clock.advance(MIN_TOKEN_AGE_FOR_FORCED_REFRESH)  # old enough to force a refresh

    async def scenario() -> None:
        endpoint.gate = threading.Event()
        refresh = asyncio.create_task(manager.refresh())
        while not endpoint.refreshed:
            await asyncio.sleep(0)
        threading.Timer(0.1, endpoint.gate.set).start()
        with store.exclusive():  # blocks this loop until the refresh has committed
            pass
        await refresh

    asyncio.run(scenario())
    assert stored_tokens(store).refresh_token == "rt-refreshed-1"


def test_a_login_committed_just_after_a_failed_refresh_is_tried() -> None:
    """The remembered failure belongs to the dead refresh token, not to whatever is stored next."""
    manager, store, endpoint, _ = setup(expiring_in(1))
    endpoint.failure = SessionEnded("already used", status=401)
    fresh = chatgpt_record(refresh="rt-new-login", expires_at=NOW + timedelta(minutes=1))
    with pytest.raises(SessionEnded):
        asyncio.run(manager.get_token())
    store.save(fresh)  # another process logs in right after the failure
    endpoint.failure = None
    asyncio.run(manager.get_token())
    assert endpoint.refreshed == ["rt-1", "rt-new-login"]


def test_an_empty_stored_key_is_not_a_login() -> None:
    manager, *_ = setup(CredentialRecord(openai_api_key=""))
    with pytest.raises(NotLoggedIn):
        asyncio.run(manager.get_token())


def test_a_rejected_answer_that_rotated_the_token_says_the_stored_one_may_be_spent() -> None:
    manager, store, endpoint, _ = setup(expiring_in(1))
    endpoint.grant = TokenGrant(access_token=make_jwt({"sub": "x"}), refresh_token="rt-rotated")
    with pytest.raises(TokenEndpointError, match=r"the stored one may be spent$") as raised:
        asyncio.run(manager.get_token())
    assert "codex-login" not in str(raised.value)  # what happened; the edge says what to do
    assert store.saved == []
