"""The contract every ``CredentialStore`` honours, as a pytest suite to subclass.

Every store codex-login ships passes it (file, memory, keyring); a store of your
own passes it with a few lines::

    import pytest
    from codex_login.testing.contract import CredentialStoreContract

    class TestMyStore(CredentialStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyStore(tmp_path / "home")  # each call: a new handle, same login

``make_store()`` must return a new handle on the *same* stored login each time
it is called (a new object where the store allows it), including in a child
process. A store that lives in one process only (like ``MemoryCredentialStore``)
sets ``shared_across_processes = False``: the tests that fork then skip, saying
why. A store whose ``fingerprint()`` is a digest of the stored record rather
than a mark of the write (the keyring store: the entry is all there is) sets
``fingerprint_is_a_digest = True``: saving an identical record may then keep the
fingerprint, which is harmless, since the record it stands for is the same.
Child processes are started with multiprocessing's ``fork`` context, so
``make_store`` may be a closure.

What it checks, as the ``CredentialStore`` port and SPEC §1 and §6 say:

- a record round-trips exactly, unknown fields included (top level, inside
  ``tokens``), with ``oauth_provenance``, an API key, an unknown ``auth_mode``;
- nothing stored: ``load()`` is None, ``delete()`` False, the fingerprint stable;
- the fingerprint changes on every write (a save, even of the same record
  unless it is a digest, a delete) and only then, and another handle sees it;
- ``delete()`` says True once, then False;
- ``exclusive()`` excludes threads and processes (read-modify-write counters
  lose no update), ``save`` and ``delete`` inside it reuse it, and ``load`` never
  waits for it;
- readers never see a torn record while threads or processes write.

Every wait is bounded by ``timeout`` seconds and ends on a condition, never on
a sleep.
"""

# ruff: noqa: S101  (a test suite: pytest reports its asserts, rewritten by the plugin)

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

import attrs
import pytest

from codex_login.domain.claims import parse_id_token
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.ports import CredentialStore
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import Provenance, TokenData
from codex_login.testing.clock import START
from codex_login.testing.tokens import access_token, id_token

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    if sys.platform == "win32":  # no fork: the process tests skip there
        from multiprocessing.context import SpawnContext as ForkContext
    else:
        from multiprocessing.context import ForkContext

__all__ = ["CredentialStoreContract", "StoreFactory", "chatgpt_record"]

StoreFactory = Callable[[], CredentialStore]
ISSUER = "https://auth.example.com"
COUNTER = "codex_login_contract_counter"


def chatgpt_record(serial: int = 1, **extra: object) -> CredentialRecord:
    """A complete ChatGPT record, told apart by ``serial`` (its refresh token), with
    ``extra`` as unknown top-level fields."""
    tokens = TokenData(
        id_token=parse_id_token(id_token(issuer=ISSUER)),
        access_token=access_token(
            START + timedelta(hours=1), issued_at=START, jti=f"contract-{serial}"
        ),
        refresh_token=f"rt-contract-{serial}",
        account_id="acc-123",
        provenance=Provenance(ISSUER, DEFAULT_CLIENT_ID),
    )
    return CredentialRecord(
        auth_mode=AuthMode.CHATGPT, tokens=tokens, last_refresh=START, extra=extra
    )


def _record_with_unknown_fields() -> CredentialRecord:
    record = chatgpt_record(
        written_by="another tool ✓",
        flags=[True, False, None],
        limits={"rpm": 60, "ratio": 2.5, "nested": {"deep": ["é", 1]}},
    )
    assert record.tokens is not None
    tokens = attrs.evolve(
        record.tokens,
        extra={"login_owner_id": "owner-7", "from_a_newer_tool": {"keys": ["a", "b"]}},
    )
    return attrs.evolve(record, openai_api_key="sk-contract-0123456789", tokens=tokens)


def _count(record: CredentialRecord) -> int:
    value = record.extra.get(COUNTER, 0)
    assert isinstance(value, int), f"the counter came back as {value!r}"
    return value


def _increment(store: CredentialStore) -> None:
    """One read-modify-write of the counter, under the store's lock."""
    with store.exclusive():
        loaded = store.load()
        assert loaded is not None, "the record vanished while a writer held the lock"
        record = loaded.record
        store.save(attrs.evolve(record, extra={**record.extra, COUNTER: _count(record) + 1}))


class CredentialStoreContract:
    """Subclass it as ``Test...`` and give it a ``make_store`` fixture.

    Class attributes: ``shared_across_processes`` and ``fingerprint_is_a_digest``
    (see the module docstring); ``threads``, ``processes`` and ``increments``
    size the concurrency tests; ``timeout`` bounds every wait, so a store that
    deadlocks fails after it instead of hanging.
    """

    shared_across_processes: ClassVar[bool] = True
    fingerprint_is_a_digest: ClassVar[bool] = False
    threads: ClassVar[int] = 4
    processes: ClassVar[int] = 3
    increments: ClassVar[int] = 10  # per thread or process
    timeout: ClassVar[float] = 120.0  # the bound on every wait

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        """Override: a callable returning a new handle on the same stored login."""
        raise NotImplementedError(f"{type(self).__name__} must define a make_store fixture")

    # -- round trips ------------------------------------------------------------------

    def test_location_is_a_description(self, make_store: StoreFactory) -> None:
        location = make_store().location
        assert isinstance(location, str)
        assert location.strip()

    def test_a_record_round_trips_with_its_unknown_fields(self, make_store: StoreFactory) -> None:
        record = _record_with_unknown_fields()
        make_store().save(record)
        loaded = make_store().load()
        assert loaded is not None
        assert loaded.record == record
        assert loaded.record.extra == record.extra
        assert loaded.record.tokens is not None
        assert record.tokens is not None
        assert loaded.record.tokens.extra == record.tokens.extra
        assert loaded.record.tokens.provenance == Provenance(ISSUER, DEFAULT_CLIENT_ID)
        assert loaded.warnings == ()

    def test_an_api_key_record_round_trips(self, make_store: StoreFactory) -> None:
        record = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-contract-key")
        make_store().save(record)
        loaded = make_store().load()
        assert loaded is not None
        assert loaded.record == record

    def test_an_unknown_auth_mode_round_trips_verbatim(self, make_store: StoreFactory) -> None:
        record = CredentialRecord(
            auth_mode=UnsupportedMode("agentIdentity"), extra={"agent": {"id": "agent-1"}}
        )
        make_store().save(record)
        loaded = make_store().load()
        assert loaded is not None
        assert loaded.record == record
        assert loaded.record.extra == record.extra

    def test_a_save_replaces_the_whole_record(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.save(chatgpt_record(1, only_in_the_first="x"))
        store.save(chatgpt_record(2))
        loaded = make_store().load()
        assert loaded is not None
        assert loaded.record == chatgpt_record(2)
        assert "only_in_the_first" not in loaded.record.extra

    # -- nothing stored ---------------------------------------------------------------

    def test_nothing_stored_loads_as_none(self, make_store: StoreFactory) -> None:
        assert make_store().load() is None

    def test_deleting_nothing_returns_false(self, make_store: StoreFactory) -> None:
        store = make_store()
        assert store.delete() is False
        assert store.load() is None

    def test_the_fingerprint_is_stable_while_nothing_is_stored(
        self, make_store: StoreFactory
    ) -> None:
        store = make_store()
        before = store.fingerprint()
        hash(before)
        assert store.load() is None
        assert store.fingerprint() == before

    # -- fingerprints -------------------------------------------------------------------

    def test_loading_does_not_change_the_fingerprint(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.save(chatgpt_record())
        before = store.fingerprint()
        for _ in range(3):
            assert store.load() is not None
        assert store.fingerprint() == before

    def test_a_save_of_another_record_changes_the_fingerprint(
        self, make_store: StoreFactory
    ) -> None:
        store = make_store()
        store.save(chatgpt_record(1))
        before = store.fingerprint()
        store.save(chatgpt_record(2))
        assert store.fingerprint() != before

    def test_every_save_changes_the_fingerprint_even_of_the_same_record(
        self, make_store: StoreFactory
    ) -> None:
        if self.fingerprint_is_a_digest:
            pytest.skip(
                f"{type(self).__name__}'s fingerprint is a digest of the stored record "
                "(fingerprint_is_a_digest = True): an identical rewrite may keep it"
            )
        store = make_store()
        record = chatgpt_record()
        seen = [store.fingerprint()]
        for _ in range(2):
            store.save(record)
            seen.append(store.fingerprint())
        assert seen[0] != seen[1]
        assert seen[1] != seen[2], "saving the same record again left the fingerprint as it was"

    def test_another_handle_sees_the_fingerprint_change(self, make_store: StoreFactory) -> None:
        writer, watcher = make_store(), make_store()
        writer.save(chatgpt_record(1))
        before = watcher.fingerprint()
        writer.save(chatgpt_record(2))
        assert watcher.fingerprint() != before
        loaded = watcher.load()
        assert loaded is not None
        assert loaded.record == chatgpt_record(2)

    def test_a_delete_changes_the_fingerprint(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.save(chatgpt_record())
        before = store.fingerprint()
        assert store.delete() is True
        assert store.fingerprint() != before

    # -- delete ----------------------------------------------------------------------

    def test_delete_removes_the_record_once(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.save(chatgpt_record())
        assert store.delete() is True
        assert store.load() is None
        assert make_store().load() is None
        assert store.delete() is False

    # -- the lock ----------------------------------------------------------------------

    def test_save_and_delete_inside_exclusive_reuse_the_lock(
        self, make_store: StoreFactory
    ) -> None:
        store = make_store()

        def write_while_holding() -> None:
            with store.exclusive():
                store.save(chatgpt_record(1))
                loaded = store.load()
                assert loaded is not None
                assert loaded.record == chatgpt_record(1)
                assert store.delete() is True
                store.save(chatgpt_record(2))

        self._run_threads([write_while_holding])  # a store that deadlocks fails, not hangs
        loaded = make_store().load()
        assert loaded is not None
        assert loaded.record == chatgpt_record(2)

    def test_load_does_not_wait_for_the_lock(self, make_store: StoreFactory) -> None:
        holder, reader = make_store(), make_store()
        holder.save(chatgpt_record())
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.exclusive():
                held.set()
                assert release.wait(self.timeout)

        def read() -> None:
            assert held.wait(self.timeout)
            try:
                assert reader.load() is not None
                reader.fingerprint()
            finally:
                release.set()

        # While the lock is held, the load ends and releases it; a waiting load times out.
        self._run_threads([hold, read])

    def test_exclusive_excludes_threads_sharing_a_handle(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.save(chatgpt_record())
        self._run_threads([lambda: self._count_up(store)] * self.threads)
        self._assert_counted(make_store(), self.threads)

    def test_exclusive_excludes_threads_with_their_own_handles(
        self, make_store: StoreFactory
    ) -> None:
        make_store().save(chatgpt_record())
        self._run_threads([lambda: self._count_up(make_store())] * self.threads)
        self._assert_counted(make_store(), self.threads)

    def test_exclusive_excludes_processes(self, make_store: StoreFactory) -> None:
        self._require_processes()
        make_store().save(chatgpt_record())
        with self._children([lambda: self._count_up(make_store())] * self.processes) as children:
            self._join(children)
        self._assert_counted(make_store(), self.processes)

    # -- torn records ----------------------------------------------------------------------

    def test_a_reader_never_sees_a_torn_record_while_threads_write(
        self, make_store: StoreFactory
    ) -> None:
        written = self._writes(self.threads)
        make_store().save(written[0])
        reader = _Reader(make_store(), written)
        reading = threading.Thread(target=reader.run, args=(self.timeout,), daemon=True)
        reading.start()
        try:
            assert reader.started.wait(self.timeout), "the reader did not start"
            self._run_threads(
                [self._writer(make_store, written, w, self.threads) for w in range(self.threads)]
            )
        finally:
            reader.stop.set()
            reading.join(self.timeout)
        assert not reading.is_alive(), "the reader did not stop"
        reader.check()

    def test_a_reader_never_sees_a_torn_record_while_processes_write(
        self, make_store: StoreFactory
    ) -> None:
        self._require_processes()
        count = self.processes
        written = self._writes(count)
        make_store().save(written[0])
        reader = _Reader(make_store(), written)
        context = _fork_context()
        go = context.Event()

        def write(worker: int) -> Callable[[], None]:
            work = self._writer(make_store, written, worker, count)

            def when_told() -> None:
                assert go.wait(self.timeout), "the parent never started reading"
                work()

            return when_told

        with self._children([write(w) for w in range(count)], context) as children:
            reader.read_once()  # the reader is running before any writer writes
            go.set()
            deadline = time.monotonic() + self.timeout
            while any(child.is_alive() for child in children) and time.monotonic() < deadline:
                reader.read_once()
            self._join(children)
        reader.check()

    # -- helpers ------------------------------------------------------------------------------

    def _require_processes(self) -> None:
        if sys.platform == "win32":
            pytest.skip("the process tests fork, which Windows cannot")
        elif not self.shared_across_processes:
            pytest.skip(
                f"{type(self).__name__} keeps its record in one process "
                "(shared_across_processes = False)"
            )

    def _count_up(self, store: CredentialStore) -> None:
        for _ in range(self.increments):
            _increment(store)

    def _assert_counted(self, store: CredentialStore, workers: int) -> None:
        loaded = store.load()
        assert loaded is not None
        assert _count(loaded.record) == workers * self.increments, "an update was lost"

    def _writes(self, workers: int) -> list[CredentialRecord]:
        """Distinct complete records, large enough that a torn write would show."""
        padding = "x" * 4096
        total = 1 + workers * self.increments
        return [chatgpt_record(serial, padding=padding) for serial in range(1, total + 1)]

    def _writer(
        self, make_store: StoreFactory, written: list[CredentialRecord], worker: int, workers: int
    ) -> Callable[[], None]:
        """Worker ``worker`` of ``workers`` saves its share of ``written`` (after the first)."""
        mine = written[1 + worker :: workers]

        def write() -> None:
            store = make_store()
            for record in mine:
                store.save(record)

        return write

    def _run_threads(self, work: list[Callable[[], None]]) -> None:
        """Run each callable in its own thread, started together; re-raise the first error."""
        start = threading.Barrier(len(work))
        errors: list[BaseException] = []

        def run(job: Callable[[], None]) -> None:
            try:
                start.wait(self.timeout)
                job()
            except BaseException as exc:  # re-raised in the test's thread below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in work]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        stuck = sum(thread.is_alive() for thread in threads)
        assert stuck == 0, f"{stuck} thread(s) still running after {self.timeout:g} s (deadlock?)"
        if errors:
            raise errors[0]

    @contextmanager
    def _children(
        self,
        work: list[Callable[[], None]],
        context: ForkContext | None = None,
    ) -> Iterator[Sequence[BaseProcess]]:
        """Fork one child per callable, started together; killed if still alive at the end."""
        context = context or _fork_context()
        start = context.Barrier(len(work))

        def run(job: Callable[[], None]) -> None:
            start.wait(self.timeout)
            job()

        children = [context.Process(target=run, args=(job,), daemon=True) for job in work]
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking a process with threads. The children
            # only build their own store handles (fork lets make_store be a closure).
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", Warning)
            for child in children:
                child.start()
        try:
            yield children
        finally:
            for child in children:
                if child.is_alive():
                    child.kill()
                    child.join()

    def _join(self, children: Sequence[BaseProcess]) -> None:
        deadline = time.monotonic() + self.timeout
        for child in children:
            child.join(max(deadline - time.monotonic(), 0.0))
        codes = [child.exitcode for child in children]
        assert codes == [0] * len(children), (
            f"child exit codes {codes} (None: still running after {self.timeout:g} s; "
            "a child's traceback is in the captured stderr)"
        )


class _Reader:
    """Loads in a loop; every record read must be one of those written, whole."""

    def __init__(self, store: CredentialStore, written: list[CredentialRecord]) -> None:
        self.store = store
        self.by_token = {r.tokens.refresh_token: r for r in written if r.tokens is not None}
        self.started, self.stop = threading.Event(), threading.Event()
        self.reads = 0
        self.problems: list[str] = []

    def read_once(self) -> None:
        try:
            loaded = self.store.load()
        except Exception as exc:  # a torn record fails to parse: that is the finding
            self.problems.append(f"load() raised {type(exc).__name__}: {exc}")
            return
        self.reads += 1
        tokens = loaded.record.tokens if loaded is not None else None
        if loaded is None or tokens is None:
            self.problems.append(f"load() returned {loaded!r} while records were being replaced")
        elif self.by_token.get(tokens.refresh_token) != loaded.record:
            self.problems.append("load() returned a record that no writer wrote")

    def run(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.read_once()
        self.started.set()
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.read_once()

    def check(self) -> None:
        bad = len(self.problems)
        assert bad == 0, f"{bad} bad reads of {self.reads}, the first: {self.problems[:3]}"
        assert self.reads > 0


def _fork_context() -> ForkContext:
    if sys.platform == "win32":  # _require_processes skipped already
        raise OSError("no fork on Windows")
    else:
        return multiprocessing.get_context("fork")
