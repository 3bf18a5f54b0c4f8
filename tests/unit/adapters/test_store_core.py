"""The store core alone: the rules the file, keyring, encrypted and Redis stores share."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_login.adapters import store_core
from codex_login.adapters.lock_file import LockFile
from codex_login.adapters.owned_paths import Owners
from codex_login.adapters.store_core import (
    DIR_MODE,
    FILE_MODE,
    Exclusion,
    HomeLocks,
    Wait,
    allow_waiting,
    file_identity,
    flock_held,
    new_temp_file,
    read_capped,
    remove_orphaned_temp_files,
    replace_in,
    reserve_room,
    stop_waiting,
    wait_within,
    write_new,
)
from codex_login.domain.errors import LockTimeout, StorageError
from support.locks import lock_held_elsewhere
from support.waiting import wait_until

PREFIX = ".auth-"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that filters nothing: the modes must come from the core, not the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def home_locks(home: Path) -> HomeLocks:
    guards = home / "auth.json"
    return HomeLocks(
        home, Owners(), guards=guards, writer_timeout=5.0, commit_timeout=5.0, notify=print
    )


def counting_exclusion(timeout: float = 5.0) -> tuple[Exclusion[str], list[str]]:
    events: list[str] = []

    def take() -> str:
        events.append("take")
        return "token"

    def give_back(held: str) -> None:
        events.append(f"give back {held}")

    return Exclusion(take, give_back, timeout=timeout, writing="the record"), events


# -- re-entry and the thread gate ------------------------------------------------------


def test_a_store_used_inside_its_own_lock_takes_the_lock_once() -> None:
    exclusion, events = counting_exclusion()
    with exclusion.hold():
        with exclusion.hold():
            assert exclusion.held == "token"
        assert events == ["take"]  # the inner block reused it and did not give it back
        assert exclusion.held == "token"
    assert events == ["take", "give back token"]
    assert exclusion.held is None


def test_the_lock_is_given_back_when_the_block_fails() -> None:
    exclusion, events = counting_exclusion()
    with pytest.raises(RuntimeError), exclusion.hold():
        raise RuntimeError("the commit failed")
    assert events == ["take", "give back token"]
    assert exclusion.held is None


def test_another_thread_waits_for_the_holder_and_times_out_naming_what_it_guards() -> None:
    exclusion, events = counting_exclusion(timeout=0.05)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with exclusion.hold():
            holding.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(LockTimeout) as raised, exclusion.hold():
            pass  # pragma: no cover  (the holder never lets go in time)
    finally:
        done.set()
        holder.join(10)
    assert str(raised.value) == (
        "gave up after 0.05 s waiting for another thread writing the record"
    )
    assert events == ["take", "give back token"]


# -- waiting: one notice, then a one-line timeout ----------------------------------------


def test_a_lock_taken_at_once_says_nothing() -> None:
    notices: list[str] = []
    wait_within(lambda seconds: True, Wait(5.0, notices.append), lambda: "L")
    assert notices == []


def test_a_long_wait_is_announced_once_then_times_out_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_core, "WAIT_NOTICE_AFTER", 0.0)
    notices: list[str] = []
    with pytest.raises(LockTimeout) as raised:
        wait_within(lambda seconds: False, Wait(0.5, notices.append), lambda: "the lock L")
    assert notices == [
        "Waiting for the lock L; giving up after 0.5 s (CODEX_LOGIN_LOCK_TIMEOUT changes this)"
    ]
    assert str(raised.value) == (
        "gave up after 0.5 s waiting for the lock L; set CODEX_LOGIN_LOCK_TIMEOUT to wait longer"
    )


def test_a_wait_without_a_setting_says_to_try_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_core, "WAIT_NOTICE_AFTER", 0.0)
    notices: list[str] = []
    with pytest.raises(LockTimeout) as raised:
        wait_within(lambda seconds: False, Wait(0.5, notices.append, None), lambda: "L")
    assert notices == ["Waiting for L; giving up after 0.5 s"]
    assert str(raised.value) == "gave up after 0.5 s waiting for L; try again later"


def held_elsewhere(seconds: float) -> bool:
    """An attempt on a lock someone else keeps: it waits as long as asked, then fails."""
    time.sleep(seconds)
    return False


@pytest.fixture
def stoppable() -> Iterator[None]:
    yield
    allow_waiting()  # as the next command of the process does


@pytest.mark.usefixtures("stoppable")
def test_a_writer_waiting_for_its_lock_gives_up_when_waits_are_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C: a writer that has not taken its lock has done nothing, so it stops."""
    monkeypatch.setattr(store_core, "WAIT_NOTICE_AFTER", 0.0)
    notices: list[str] = []
    raised: list[BaseException] = []

    def waiter() -> None:
        try:
            wait_within(held_elsewhere, Wait(600.0, notices.append), lambda: "L")
        except LockTimeout as exc:
            raised.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: notices)  # waiting, within its 600 s
    stop_waiting()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [str(exc) for exc in raised] == ["stopped waiting for a lock: interrupted"]


@pytest.mark.usefixtures("stoppable")
def test_a_commits_wait_goes_on_after_waits_are_stopped() -> None:
    """A commit holds tokens that must be saved: its wait runs to the lock."""
    attempts: list[float] = []
    notices: list[str] = []

    def taken_on_the_third_try(seconds: float) -> bool:
        attempts.append(seconds)
        return len(attempts) == 3

    stop_waiting()
    wait_within(
        taken_on_the_third_try, Wait(5.0, notices.append, None, stoppable=False), lambda: "L"
    )
    assert len(attempts) == 3
    with pytest.raises(LockTimeout, match="interrupted"):  # where a writer's wait stops
        wait_within(held_elsewhere, Wait(5.0, notices.append), lambda: "L")
    allow_waiting()
    attempts.clear()
    wait_within(taken_on_the_third_try, Wait(5.0, notices.append), lambda: "L")
    assert len(attempts) == 3


def test_a_flock_held_by_another_process_times_out_naming_the_file_and_its_holder(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o700)
    lock = LockFile(tmp_path, "auth.lock", Owners(), mode=FILE_MODE)
    notices: list[str] = []
    with (
        lock_held_elsewhere(tmp_path / "auth.lock") as holder,
        pytest.raises(LockTimeout) as raised,
        flock_held(lock, Wait(0.2, notices.append)),
    ):
        pass  # pragma: no cover
    message = str(raised.value)
    assert message.startswith(f"gave up after 0.2 s waiting for {tmp_path / 'auth.lock'}")
    assert f"held by process {holder.pid}" in message
    assert message.endswith("; set CODEX_LOGIN_LOCK_TIMEOUT to wait longer")


# -- modes ---------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_the_locks_make_codex_home_0700_and_the_lock_files_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with home_locks(home).committing():
        pass
    assert mode_of(home) == DIR_MODE == 0o700
    assert mode_of(home / "auth.lock") == FILE_MODE == 0o600
    assert mode_of(home / "auth.json.lock") == 0o600


def test_a_loose_codex_home_of_ours_is_tightened(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    with home_locks(tmp_path).exclusive():
        pass
    assert mode_of(tmp_path) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_a_committed_file_is_0600(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_new(fd, tmp_path, "auth.json", b"{}", owners=Owners(), prefix=PREFIX)
    finally:
        os.close(fd)
    assert mode_of(tmp_path / "auth.json") == 0o600
    assert (tmp_path / "auth.json").read_bytes() == b"{}"


# -- the commit ----------------------------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def test_a_commit_that_fails_midway_leaves_the_old_record_and_no_temp_file(
    tmp_path: Path, directory: int
) -> None:
    (tmp_path / "auth.json").write_bytes(b"old record")
    fd, name = new_temp_file(directory, tmp_path, Owners(), PREFIX)
    os.close(fd)
    unwritable = os.open(name, os.O_RDONLY, dir_fd=directory)  # the write fails: EBADF
    with pytest.raises(StorageError, match=r"^cannot write .*auth\.json: "):
        replace_in(directory, tmp_path, (unwritable, name), "auth.json", b"new record")
    assert (tmp_path / "auth.json").read_bytes() == b"old record"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json"]


def test_a_commit_whose_rename_fails_removes_its_temp_file(tmp_path: Path, directory: int) -> None:
    (tmp_path / "auth.json").mkdir()
    (tmp_path / "auth.json" / "keep").write_bytes(b"")
    with pytest.raises(StorageError, match=r"^cannot write .*auth\.json: "):
        write_new(directory, tmp_path, "auth.json", b"new", owners=Owners(), prefix=PREFIX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json"]


def test_a_commit_replaces_the_file_so_its_fingerprint_changes(
    tmp_path: Path, directory: int
) -> None:
    assert file_identity(tmp_path / "auth.json") is None
    write_new(directory, tmp_path, "auth.json", b"one", owners=Owners(), prefix=PREFIX)
    first = file_identity(tmp_path / "auth.json")
    write_new(directory, tmp_path, "auth.json", b"two", owners=Owners(), prefix=PREFIX)
    assert first is not None
    assert file_identity(tmp_path / "auth.json") != first


def test_leftover_temp_files_go_but_the_kept_one_links_and_other_names_stay(
    tmp_path: Path, directory: int
) -> None:
    for name in (".auth-dead1", ".auth-dead2", ".auth-mine", "auth.json"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".auth-link").symlink_to(tmp_path / "auth.json")
    remove_orphaned_temp_files(directory, tmp_path, Owners(), PREFIX, keep=".auth-mine")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".auth-link", ".auth-mine", "auth.json"]


def test_a_file_larger_than_the_cap_is_refused_with_the_stores_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_core, "MAX_FILE_BYTES", 4)
    (tmp_path / "big").write_bytes(b"12345")
    (tmp_path / "small").write_bytes(b"1234")
    with open(tmp_path / "small", "rb") as small:
        assert read_capped(small.fileno(), tmp_path / "small", "too large") == b"1234"
    with open(tmp_path / "big", "rb") as big, pytest.raises(StorageError) as raised:
        read_capped(big.fileno(), tmp_path / "big", "it is too large")
    assert str(raised.value) == f"cannot read {tmp_path / 'big'}: it is too large"


def test_a_commit_into_reserved_room_keeps_only_the_record(tmp_path: Path, directory: int) -> None:
    fd, name = new_temp_file(directory, tmp_path, Owners(), PREFIX)
    os.pwrite(fd, bytes(4096), 0)  # the room a reservation holds, longer than the record
    replace_in(directory, tmp_path, (fd, name), "auth.json", b"{}")
    assert (tmp_path / "auth.json").read_bytes() == b"{}"


def test_reserved_room_is_given_back_whole_when_the_commit_does_not_come(
    tmp_path: Path, directory: int
) -> None:
    reserved = reserve_room(directory, tmp_path, Owners(), PREFIX, 8192)
    assert (tmp_path / reserved.name).stat().st_blocks * 512 >= 8192  # the disk is held
    reserved.discard()
    assert list(tmp_path.iterdir()) == []
