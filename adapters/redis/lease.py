"""The writers' lease: waiting to take it (with backoff and one notice) and renewing it."""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable

from codex_login.adapters.store_core import Wait, wait_within
from codex_login.domain.errors import StorageError

FIRST_BACKOFF = 0.01
MAX_BACKOFF = 0.5

log = logging.getLogger(__name__)
_jitter = random.SystemRandom()


def new_token() -> str:
    """A lease's value: who holds it (host and pid, so a waiter can name them), then a
    random part that makes it this holder's alone."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(16)}"


def held_by_this_process(token: str) -> bool:
    """Whether ``token`` is a lease value this process made (not one a parent it was forked
    from made, which the parent may still hold)."""
    named = _host_and_pid(token)
    return named is not None and named[1] == str(os.getpid())


def holder_of(token: bytes | str | None) -> str:
    """Who holds a lease, from its value; "another writer" for a value that does not say
    (an older release's)."""
    value = token.decode(errors="replace") if isinstance(token, bytes) else (token or "")
    named = _host_and_pid(value)
    return "another writer" if named is None else f"pid {named[1]} on {named[0]}"


def _host_and_pid(token: str) -> tuple[str, str] | None:
    """The holder a lease value names (``new_token``'s form), or None when it names none."""
    host, _, rest = token.partition(":")
    pid, _, random_part = rest.partition(":")
    return (host, pid) if host and pid.isdigit() and random_part else None


def wait_for(
    try_lease: Callable[[], int | None],
    *,
    lock: str,
    timeout: float,
    notify: Callable[[str], None],
    holder: Callable[[], str] = lambda: "another writer",
) -> int:
    """Call ``try_lease`` until it gives the version read under a new lease.

    Raises ``LockTimeout`` after ``timeout`` seconds; says once, after a second, why it
    waits and who holds the lease (``holder()``; ``store_core.wait_within``, the rule
    every store's lock follows).
    """
    backoff = _Backoff(try_lease)
    wait_within(
        backoff.attempt, Wait(timeout, notify), lambda: f"the lease {lock} held by {holder()}"
    )
    assert backoff.version is not None  # noqa: S101  (wait_within returned: it was taken)
    return backoff.version


class _Backoff:
    """Tries for the lease, with full jitter: waiters spread out instead of retrying
    in step. The delay grows across attempts, as in one long wait."""

    def __init__(self, try_lease: Callable[[], int | None]) -> None:
        self._try_lease = try_lease
        self._delay = FIRST_BACKOFF
        self._next_try = 0.0  # monotonic: kept across attempts, which the wait slices
        self.version: int | None = None

    def attempt(self, seconds: float) -> bool:
        """Try when the backoff allows, until the lease is taken (True) or ``seconds``
        have passed (0: one try when one is due)."""
        end = time.monotonic() + seconds
        while True:
            if time.monotonic() >= self._next_try:
                version = self._try_lease()
                if version is not None:
                    self.version = version
                    return True
                delay = _jitter.uniform(self._delay / 2, self._delay)
                self._next_try = time.monotonic() + delay
                self._delay = min(self._delay * 2, MAX_BACKOFF)
            now = time.monotonic()
            if now >= end:
                return False
            time.sleep(min(self._next_try, end) - now)


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
