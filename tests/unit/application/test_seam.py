"""The seam: one event loop on a daemon thread for blocking callers and other loops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

import pytest

from codex_login.application.seam import Seam, off_loop, settle


async def thread_of_loop() -> threading.Thread:
    return threading.current_thread()


def test_run_blocks_for_the_result_computed_on_the_seam_s_own_thread() -> None:
    seam = Seam()
    try:
        ran_on = seam.run(thread_of_loop())
        assert ran_on is not threading.current_thread()
        assert ran_on.daemon
        assert seam.run(thread_of_loop()) is ran_on  # the same loop thread, not a new one
    finally:
        seam.close()


def test_run_on_the_seam_s_own_thread_is_refused_not_a_deadlock() -> None:
    seam = Seam()

    async def blocking_call_inside() -> None:
        seam.run(thread_of_loop())

    try:
        with pytest.raises(RuntimeError, match="seam's own loop thread"):
            seam.run(blocking_call_inside())
    finally:
        seam.close()


def test_call_from_another_loop_runs_on_the_seam_s_loop() -> None:
    seam = Seam()
    try:
        own = seam.run(thread_of_loop())
        assert asyncio.run(seam.call(thread_of_loop())) is own
    finally:
        seam.close()


def test_close_runs_the_clean_ups_on_the_loop_then_stops_its_thread() -> None:
    seam = Seam()
    cleaned_on: list[threading.Thread] = []

    async def clean_up() -> None:
        cleaned_on.append(threading.current_thread())

    seam.on_close(clean_up)
    seam.on_close(clean_up)  # registered once
    thread = seam.run(thread_of_loop())
    seam.close()
    assert cleaned_on == [thread]
    assert not thread.is_alive()


def test_a_call_after_close_starts_a_new_loop_and_its_clean_ups_run_again() -> None:
    seam = Seam()
    cleanups: list[str] = []

    async def clean_up() -> None:
        cleanups.append("closed")

    seam.on_close(clean_up)
    first = seam.run(thread_of_loop())
    seam.close()
    second = seam.run(thread_of_loop())
    seam.close()
    assert first is not second
    assert cleanups == ["closed", "closed"]


def test_a_seam_never_started_closes_without_a_thread() -> None:
    seam = Seam()
    seam.close()
    assert repr(seam) == "Seam(running=False)"


def test_a_dropped_seam_runs_its_clean_ups_and_stops_its_thread() -> None:
    cleanups: list[str] = []

    async def clean_up() -> None:
        cleanups.append("closed")

    seam = Seam()
    seam.on_close(clean_up)
    thread = seam.run(thread_of_loop())
    del seam
    gc.collect()
    assert cleanups == ["closed"]
    assert not thread.is_alive()


def test_close_lets_work_in_flight_finish_before_it_stops_the_loop() -> None:
    """A refresh's POST waited on by a worker thread completes; the waiter never hangs."""
    seam = Seam()
    started = threading.Event()
    release = threading.Event()
    results: list[str] = []

    async def in_flight() -> str:
        started.set()
        await asyncio.to_thread(release.wait, 10)
        return "committed"

    def waiter() -> None:
        results.append(seam.run(in_flight()))

    worker = threading.Thread(target=waiter)
    worker.start()
    assert started.wait(10)
    closing = threading.Thread(target=seam.close)
    closing.start()
    release.set()
    closing.join(10)
    worker.join(10)
    assert results == ["committed"]
    assert not closing.is_alive()


def test_blocking_work_runs_on_codex_login_s_threads_not_the_loop_s_default_executor() -> None:
    async def where() -> tuple[str, str]:
        default = await asyncio.to_thread(lambda: threading.current_thread().name)
        ours = await off_loop(lambda: threading.current_thread().name)
        return default, ours

    default, ours = asyncio.run(where())
    assert ours.startswith("codex-login-io")
    assert not default.startswith("codex-login-io")


def test_settle_waits_for_blocking_work_its_caller_gave_up_on() -> None:
    release = threading.Event()
    finished: list[bool] = []

    def commit() -> None:
        release.wait(5)
        finished.append(True)

    async def give_up() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(off_loop(commit), 0.01)

    asyncio.run(give_up())
    assert not finished  # still running on its worker thread
    release.set()
    settle()
    assert finished == [True]
