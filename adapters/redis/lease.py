"""The writers' lease: waiting to take it (with backoff and one notice) and renewing it."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from codex_login.domain.errors import LockTimeout, StorageError

WAIT_NOTICE_AFTER = 1.0
FIRST_BACKOFF = 0.01
MAX_BACKOFF = 0.5
TIMEOUT_VARIABLE = "CODEX_LOGIN_LOCK_TIMEOUT"

log = logging.getLogger(__name__)
_jitter = random.SystemRandom()


def wait_for(
    try_lease: Callable[[], int | None],
    *,
    lock: str,
    timeout: float,
    notify: Callable[[str], None],
) -> int:
    """Call ``try_lease`` until it gives the version read under a new lease.

    Raises ``LockTimeout`` after ``timeout`` seconds; says once, after a second, why it waits.
    """
    deadline = time.monotonic() + timeout
    notice_at = time.monotonic() + WAIT_NOTICE_AFTER
    told = False
    delay = FIRST_BACKOFF
    while (version := try_lease()) is None:
        now = time.monotonic()
        if now >= deadline:
            raise LockTimeout(
                f"gave up after {timeout:g} s waiting for the lease "
                f"{lock} held by another writer; set {TIMEOUT_VARIABLE} "
                "to wait longer"
            )
        if not told and now >= notice_at:
            told = True
            notify(
                f"Waiting for the lease {lock} held by another writer; giving "
                f"up after {timeout:g} s ({TIMEOUT_VARIABLE} changes this)"
            )
        # Full jitter: waiters spread out instead of retrying in step; a pending
        # notice is not slept past.
        wake = deadline if told else min(deadline, notice_at)
        time.sleep(max(0.0, min(_jitter.uniform(delay / 2, delay), wake - now)))
        delay = min(delay * 2, MAX_BACKOFF)
    return version


class Lease:
    """A lease we hold: its token, the version last read under it, its renewal."""

    def __init__(self, token: str, version: int, thread: int) -> None:
        self.token = token
        self.version = version
        self.thread = thread
        self._released = threading.Event()

    def __repr__(self) -> str:
        return f"Lease(version={self.version})"  # the token stays out of reprs

    def start_renewing(self, renew: Callable[[Lease], bool], every: float) -> None:
        threading.Thread(
            target=self._renew_until_released,
            args=(renew, every),
            name="codex-login lease renewal",
            daemon=True,
        ).start()

    def stop_renewing(self) -> None:
        self._released.set()

    def _renew_until_released(self, renew: Callable[[Lease], bool], every: float) -> None:
        while not self._released.wait(every):
            try:
                if not renew(self):
                    log.info("the Redis lease expired before renewal; commits will be refused")
                    return
            except StorageError as exc:  # a blip: the next renewal may get through
                log.info("could not renew the Redis lease: %s", exc)
