"""Where tokens go, what a failure says, and what a long-running process keeps (issue: trust)."""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from datetime import timedelta

import attrs
import pytest

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.auth_manager import AuthManager
from codex_login.application.device_login import DeviceLogin
from codex_login.application.logout import logout
from codex_login.application.options import AuthOptions
from codex_login.application.seam import Seam
from codex_login.application.signin import SignIn
from codex_login.domain.errors import (
    IssuerMismatch,
    LoginKept,
    SessionEnded,
    StorageError,
    TokensUnsaved,
    UntrustedPath,
)
from codex_login.domain.issuer import DEFAULT_ISSUER, IssuerConfig, issuer_config
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.domain.tokens import Provenance, TokenGrant
from support.fakes import NOW, FakeClock, FakeTokenEndpoint
from support.records import chatgpt_record
from support.tokens import access_token, id_token

LOCAL = Provenance("http://127.0.0.1:4444", "app_local")


def bound_record(provenance: Provenance | None = LOCAL, minutes: float = 1) -> CredentialRecord:
    record = chatgpt_record(expires_at=NOW + timedelta(minutes=minutes))
    assert record.tokens is not None
    return attrs.evolve(record, tokens=attrs.evolve(record.tokens, provenance=provenance))


def manager_for(
    store: MemoryCredentialStore, endpoint: FakeTokenEndpoint, issuer: IssuerConfig, **kw: object
) -> AuthManager:
    return AuthManager(
        store=store,
        clock=endpoint.clock,
        endpoint=endpoint,
        options=AuthOptions(issuer=issuer),
        **kw,  # type: ignore[arg-type]
    )


def test_a_refresh_goes_to_the_issuer_that_issued_the_tokens() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    manager = manager_for(MemoryCredentialStore(bound_record()), endpoint, issuer_config())
    asyncio.run(manager.get_token())
    [issuer] = endpoint.issuers
    assert (issuer.issuer, issuer.client_id) == (LOCAL.issuer, LOCAL.client_id)


def test_a_conflicting_explicit_issuer_sends_nothing() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    store = MemoryCredentialStore(bound_record())
    manager = manager_for(store, endpoint, issuer_config(issuer="https://idp.example"))
    with pytest.raises(IssuerMismatch, match=r"https://idp\.example"):
        asyncio.run(manager.get_token())
    assert endpoint.refreshed == []
    assert store.saved == []


def test_a_refresh_keeps_the_provenance() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    store = MemoryCredentialStore(bound_record())
    asyncio.run(manager_for(store, endpoint, issuer_config()).get_token())
    [saved] = store.saved
    assert saved.tokens is not None
    assert saved.tokens.provenance == LOCAL


def test_a_login_records_the_issuer_and_revokes_only_its_own_tokens() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    store = MemoryCredentialStore(bound_record(Provenance(DEFAULT_ISSUER, "app_other")))
    issuer = issuer_config(issuer=LOCAL.issuer, client_id=LOCAL.client_id)
    signin = SignIn(endpoint=endpoint, store=store, clock=endpoint.clock, issuer=issuer)
    grant = TokenGrant(id_token(), access_token(NOW + timedelta(hours=1)), "rt-new")
    asyncio.run(signin.store_grant(grant, exchange_api_key=False))
    saved = store.saved[-1].tokens
    assert saved is not None
    assert saved.provenance == LOCAL
    assert endpoint.revoked == []  # the replaced login belongs to another issuer
    asyncio.run(signin.store_grant(attrs.evolve(grant, refresh_token="rt-newer")))
    assert endpoint.revoked == [("rt-new", "refresh_token")]


def test_a_session_that_ended_raises_a_new_error_each_time_and_memory_stays_flat() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.failure = SessionEnded("the session is over", status=401)
    manager = manager_for(MemoryCredentialStore(bound_record()), endpoint, issuer_config())

    async def calls(count: int, keep: int = 0) -> list[SessionEnded]:
        kept: list[SessionEnded] = []
        for _ in range(count):
            try:
                await manager.get_token()
            except SessionEnded as exc:
                if len(kept) < keep:
                    kept.append(exc)
        return kept

    first, second = asyncio.run(calls(2, keep=2))
    assert first is not second
    assert str(first) == str(second) == "the session is over"
    assert len(endpoint.refreshed) == 1  # the issuer was asked once
    del first, second
    gc.collect()
    tracemalloc.start()
    asyncio.run(calls(200))
    gc.collect()
    baseline, _ = tracemalloc.get_traced_memory()
    asyncio.run(calls(2000))
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after - baseline < 200_000, f"memory grew by {after - baseline} bytes"


class FullDisk(MemoryCredentialStore):
    """Saves fail ``failures`` times, as on a full disk."""

    def __init__(self, record: CredentialRecord, failures: int) -> None:
        super().__init__(record)
        self.failures = failures
        self.attempts = 0

    def save(self, record: CredentialRecord) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("cannot write auth.json: No space left on device")
        super().save(record)


def test_a_commit_that_fails_for_a_moment_is_retried() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    store = FullDisk(bound_record(), failures=2)
    manager = manager_for(store, endpoint, issuer_config(), commit_retry_delays=(0, 0, 0))
    asyncio.run(manager.get_token())
    assert store.attempts == 3
    assert len(store.saved) == 1


def test_a_commit_that_keeps_failing_says_the_token_is_spent_and_is_saved_later() -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    store = FullDisk(bound_record(), failures=5)
    manager = manager_for(store, endpoint, issuer_config(), commit_retry_delays=(0, 0))
    with pytest.raises(TokensUnsaved, match="probably spent") as caught:
        asyncio.run(manager.get_token())
    assert "No space left on device" in str(caught.value)
    assert str(caught.value).endswith(
        "the new tokens exist only in this process's memory (a process that goes on saves "
        "them at its next refresh)"
    )
    assert store.saved == []
    store.failures = 0
    token = asyncio.run(manager.get_token())  # space freed: the kept tokens are saved
    assert len(endpoint.refreshed) == 1  # the spent refresh token was not posted again
    [saved] = store.saved
    assert saved.tokens is not None
    assert saved.tokens.access_token == token
    assert saved.tokens.refresh_token == "rt-refreshed-1"


class TurnedUntrusted(MemoryCredentialStore):
    """Between the load and the commit, another user took the directory over."""

    def __init__(self, record: CredentialRecord) -> None:
        super().__init__(record)
        self.attempts = 0
        self.untrusted = True

    def save(self, record: CredentialRecord) -> None:
        self.attempts += 1
        if self.untrusted:
            raise UntrustedPath("refusing to use /home/me/.codex: it belongs to uid 4242")
        super().save(record)


def test_a_commit_refused_as_untrusted_is_not_retried_and_keeps_the_tokens() -> None:
    """No retry cures another user's directory (a set-up to fix, not a TryAgain): one
    attempt, the same kind of error, and the rotated tokens kept for the next save."""
    endpoint = FakeTokenEndpoint(FakeClock())
    store = TurnedUntrusted(bound_record())
    manager = manager_for(store, endpoint, issuer_config(), commit_retry_delays=(0, 0))
    with pytest.raises(UntrustedPath, match="probably spent") as caught:
        asyncio.run(manager.get_token())
    assert "it belongs to uid 4242" in str(caught.value)
    assert store.attempts == 1
    store.untrusted = False
    token = asyncio.run(manager.get_token())  # fixed: the kept tokens are saved
    assert len(endpoint.refreshed) == 1
    [saved] = store.saved
    assert saved.tokens is not None
    assert saved.tokens.access_token == token


class RefreshDuringRevoke(FakeTokenEndpoint):
    """A refresh by another thread tries to commit while the logout revokes."""

    def __init__(self, store: MemoryCredentialStore) -> None:
        super().__init__(FakeClock())
        self.store = store
        self.refresher: threading.Thread | None = None

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        def refresh_elsewhere() -> None:
            with self.store.exclusive():
                self.store.save(bound_record(minutes=60))

        self.refresher = threading.Thread(target=refresh_elsewhere)
        self.refresher.start()
        self.refresher.join(0.2)  # it must still be waiting for our lock
        assert self.refresher.is_alive()
        await super().revoke(issuer, token=token, hint=hint)


def test_logout_reads_revokes_and_deletes_under_the_lock() -> None:
    store = MemoryCredentialStore(bound_record())
    endpoint = RefreshDuringRevoke(store)
    seam = Seam()
    try:
        result = asyncio.run(
            logout(store=store, endpoint=endpoint, issuer=issuer_config(), revoke=True, seam=seam)
        )
    finally:
        seam.close()
    assert result.revoked
    assert endpoint.revoked == [("rt-1", "refresh_token")]
    assert endpoint.issuers[0].issuer == LOCAL.issuer
    assert endpoint.refresher is not None
    endpoint.refresher.join(5)


def test_logout_with_a_conflicting_issuer_sends_and_deletes_nothing() -> None:
    store = MemoryCredentialStore(bound_record())
    endpoint = FakeTokenEndpoint(FakeClock())
    configured = issuer_config(issuer="https://idp.example")
    with pytest.raises(IssuerMismatch):
        asyncio.run(
            logout(store=store, endpoint=endpoint, issuer=configured, revoke=True, seam=Seam())
        )
    assert endpoint.revoked == []
    assert store.load() is not None


class UnreadableNow(MemoryCredentialStore):
    """A store whose record exists but cannot be read now (a permission, an I/O error),
    which it says as the file store does: from the OSError."""

    def load(self) -> Loaded | None:
        denied = PermissionError(13, "Permission denied")
        raise StorageError("cannot read auth.json: Permission denied") from denied


class Unusable(MemoryCredentialStore):
    """A store that cannot be used at all (its package missing, its server down)."""

    def load(self) -> Loaded | None:
        raise StorageError("the keyring store needs the keyring package")


def test_a_logout_that_revokes_keeps_a_record_it_cannot_read() -> None:
    """Deleted unread, a sound login could never be revoked: keep it and say so."""
    store = UnreadableNow(bound_record())
    endpoint = FakeTokenEndpoint(FakeClock())
    with pytest.raises(LoginKept, match="Permission denied; the login was kept"):
        asyncio.run(
            logout(store=store, endpoint=endpoint, issuer=issuer_config(), revoke=True, seam=Seam())
        )
    assert endpoint.revoked == []
    assert MemoryCredentialStore.load(store) is not None


def test_a_logout_through_a_store_that_cannot_be_used_raises_its_error_and_deletes_nothing() -> (
    None
):
    store = Unusable(bound_record())
    endpoint = FakeTokenEndpoint(FakeClock())
    with pytest.raises(StorageError) as raised:
        asyncio.run(
            logout(store=store, endpoint=endpoint, issuer=issuer_config(), revoke=True, seam=Seam())
        )
    assert str(raised.value) == "the keyring store needs the keyring package"
    assert not isinstance(raised.value, LoginKept)
    assert MemoryCredentialStore.load(store) is not None


def test_a_local_logout_deletes_a_record_it_cannot_read() -> None:
    store = UnreadableNow(bound_record())
    endpoint = FakeTokenEndpoint(FakeClock())
    result = asyncio.run(
        logout(store=store, endpoint=endpoint, issuer=issuer_config(), revoke=False, seam=Seam())
    )
    assert (result.removed, result.unreadable) == (True, "cannot read auth.json: Permission denied")
    assert MemoryCredentialStore.load(store) is None


@pytest.mark.parametrize(("issuer", "exchanges"), [(DEFAULT_ISSUER, 0), (LOCAL.issuer, 1)])
def test_a_device_login_asks_for_an_api_key_only_off_the_openai_issuer(
    issuer: str, exchanges: int
) -> None:
    endpoint = FakeTokenEndpoint(FakeClock())
    endpoint.device_answers = [TokenGrant(id_token(), access_token(NOW), "rt-device")]
    store = MemoryCredentialStore()
    signin = SignIn(
        endpoint=endpoint, store=store, clock=endpoint.clock, issuer=issuer_config(issuer=issuer)
    )
    login = DeviceLogin(signin=signin)

    async def run() -> None:
        await login.wait(await login.start())

    asyncio.run(run())
    assert endpoint.api_key_requests == exchanges
    assert store.load() is not None
