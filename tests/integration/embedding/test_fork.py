"""A CodexAuth in a child made by fork(): the parent's seam thread and worker threads did
not come along, so the child starts its own instead of waiting on them for ever (a
pre-fork server's workers: gunicorn --preload, multiprocessing's fork)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest

from codex_login.testing import SettableClock
from codex_login.testing.session import signed_in
from support.cli import run_python
from support.waiting import wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")


def exit_status(pid: int) -> int:
    """The child's exit code, once it has ended (within the wait's bound)."""
    ended: list[int] = []

    def reaped() -> bool:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended.append(os.waitstatus_to_exitcode(status))
        return bool(done)

    try:
        wait_until(reaped, 30.0, "the forked child to end")
    except AssertionError:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise
    return ended[0]


def test_a_child_forked_after_a_refresh_refreshes_and_closes_on_its_own() -> None:
    clock = SettableClock(datetime.now(UTC))
    with signed_in(clock=clock, access_ttl=timedelta(minutes=10)) as session:
        session.auth.refresh()  # the seam's thread and its HTTP session now exist
        clock.advance(timedelta(minutes=20))  # so the child's first call must refresh
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its token on the pipe, closed, gone
            code = 1
            try:
                os.write(write, session.auth.get_token().encode())
                session.auth.close()
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        os.close(write)
        assert exit_status(pid) == 0
        with os.fdopen(read, "rb") as pipe:
            token = pipe.read().decode()
        stored = json.loads((session.home / "auth.json").read_bytes())
        assert token == stored["tokens"]["access_token"]
        assert len(session.issuer.posts("refresh_token")) == 2  # the parent's, the child's
        assert session.auth.get_token() == token  # the parent goes on, on its own thread
        # The child's close left the parent's HTTP session alone (its sockets, and the
        # selector they are registered with, are shared with the parent): a refresh works.
        clock.advance(timedelta(minutes=20))
        assert session.auth.get_token() != token
        assert len(session.issuer.posts("refresh_token")) == 3


# In a process of its own: under pytest the collector's warning for the parent's session
# is kept by pytest's hook, so the session is never collected and the bug never shows.
PARENT_AFTER_A_CHILD = r"""
import gc, os, sys, threading
from datetime import UTC, datetime, timedelta
from codex_login.testing import SettableClock
from codex_login.testing.session import signed_in

clock = SettableClock(datetime.now(UTC))
with signed_in(clock=clock, access_ttl=timedelta(minutes=10)) as session:
    session.auth.refresh()  # the parent's session keeps a connection to the issuer
    pid = os.fork()
    if pid == 0:
        clock.advance(timedelta(minutes=20))
        session.auth.get_token()  # the child's own session
        session.auth.close()
        gc.collect()  # what an exit would collect
        os._exit(0)
    os.waitpid(pid, 0)
    clock.advance(timedelta(minutes=20))
    done = threading.Event()
    threading.Thread(target=lambda: (session.auth.get_token(), done.set()), daemon=True).start()
    print("parent refreshed" if done.wait(20) else "parent hung", flush=True)
    os._exit(0 if done.is_set() else 1)
"""


def test_a_child_that_closes_and_collects_leaves_the_parents_connections_alone() -> None:
    result = run_python(PARENT_AFTER_A_CHILD, timeout=120)
    assert (result.returncode, result.stdout) == (0, "parent refreshed\n"), result.stderr[-2000:]
