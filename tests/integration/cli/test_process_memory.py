"""A CLI process holding a refresh token is closed to other processes of the same user.

The attack: anything else the user runs (a compromised dependency, a plugin) reads the
memory of a ``codex-login token`` mid-refresh or of a long-lived ``serve`` through
``/proc/<pid>/mem``, a debugger, or a core dump. ``prctl(PR_SET_DUMPABLE, 0)`` closes
all three; what can be observed from outside is the ptrace access check they share.

How it is checked, faithfully: the CLI runs as ``nobody``, and a second process, also
``nobody``, tries to read the CLI's ``/proc/<pid>/environ``. That read goes through the
same ptrace access check as ``/proc/<pid>/mem`` and ``PTRACE_ATTACH`` (in its "read"
mode, which the Yama LSM leaves alone, so the check does not depend on
``kernel.yama.ptrace_scope``). A dumpable process of the same user is readable, as the
control shows; a non-dumpable one refuses with EACCES. The kernel also hands the
process's ``/proc`` files to root, which the test sees as root. ``/proc/<pid>/status``
says nothing about the flag, and a process started as root would own its files as root
either way: hence another user, and a read attempt rather than a look.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from support.broker import READY
from support.cli import CLI
from support.fake_issuer import FakeIssuer, running_issuer
from support.locks import lock_held_elsewhere
from support.logins import issuer_env, stored, write_login
from support.other_users import (
    AS_NOBODY,
    NOBODY_GID,
    NOBODY_UID,
    need_nobody_to_run_the_cli,
    open_to_others,
)
from support.waiting import wait_until

SYSTEM_PYTHON = "/usr/bin/python3"
WAIT = 30.0
# Run as nobody: read another process's /proc/PID/environ; say whether the kernel let us.
READER = r"""
import sys
try:
    with open(f"/proc/{sys.argv[1]}/environ", "rb") as environ:
        environ.read()
except PermissionError:
    print("refused")
else:
    print("read")
"""


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A CODEX_HOME that belongs to nobody, in a directory nobody can reach."""
    need_nobody_to_run_the_cli()
    if sys_python_missing():
        pytest.skip(f"{SYSTEM_PYTHON} runs the reader as nobody; it is not installed")
    with open_to_others("codex-dumpable-") as shared:
        home = shared / "codex"
        home.mkdir(mode=0o700)
        yield home


def sys_python_missing() -> bool:
    return not Path(SYSTEM_PYTHON).exists()


def give_to_nobody(home: Path) -> None:
    for path in [home, *home.iterdir()]:
        os.chown(path, NOBODY_UID, NOBODY_GID)


def read_by_nobody(pid: int) -> str:
    """What another process of user nobody gets reading ``pid``'s environment."""
    result = subprocess.run(
        [*AS_NOBODY, SYSTEM_PYTHON, "-c", READER, str(pid)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def start_as_nobody(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The real CLI as nobody (setpriv execs it: the PID is the CLI's)."""
    return subprocess.Popen(
        [*AS_NOBODY, str(CLI), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def read_until(child: subprocess.Popen[str], marker: str) -> str:
    """Its stderr up to the line that starts with ``marker`` (readline blocks, it does
    not poll; the child's end gives EOF)."""
    assert child.stderr is not None
    seen = ""
    for line in child.stderr:
        seen += line
        if line.startswith(marker):
            return seen
    raise AssertionError(f"the command ended before saying {marker!r}:\n{seen}")


def test_a_process_of_the_same_user_is_readable_without_the_flag(nobody_home: Path) -> None:
    """The control: the reader can read a nobody process that did not ask for privacy."""
    with subprocess.Popen([*AS_NOBODY, "sleep", "60"]) as sleeper:
        try:
            wait_until(
                lambda: os.stat(f"/proc/{sleeper.pid}").st_uid == NOBODY_UID,
                timeout=WAIT,
                what="setpriv to become nobody",
            )
            assert read_by_nobody(sleeper.pid) == "read"
        finally:
            sleeper.kill()


def test_token_waiting_to_refresh_is_closed_to_the_same_user(nobody_home: Path) -> None:
    with running_issuer(FakeIssuer()) as issuer:
        write_login(nobody_home, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
        lock = nobody_home / "auth.lock"
        lock.touch(mode=0o600)
        give_to_nobody(nobody_home)
        with lock_held_elsewhere(lock):
            child = start_as_nobody(["token"], issuer_env(nobody_home, issuer))
            try:
                # The record is read (the token is due) and the refresh waits for the lock.
                read_until(child, "Waiting for ")
                assert read_by_nobody(child.pid) == "refused"
                assert os.stat(f"/proc/{child.pid}/environ").st_uid == 0
            except BaseException:
                child.kill()
                child.communicate(timeout=WAIT)
                raise
        # Once the lock is free it refreshes as ever: the flag changes nothing it needs.
        out, err = child.communicate(timeout=WAIT)
    assert child.returncode == 0, err
    assert out == f"{stored(nobody_home)['tokens']['access_token']}\n"
    assert len(issuer.posts("refresh_token")) == 1


@pytest.mark.parametrize(
    ("opt_out", "seen", "owner"),
    [({}, "refused", 0), ({"CODEX_LOGIN_DUMPABLE": "1"}, "read", NOBODY_UID)],
    ids=["default", "CODEX_LOGIN_DUMPABLE=1"],
)
def test_the_broker_is_closed_to_the_same_user(
    nobody_home: Path, opt_out: dict[str, str], seen: str, owner: int
) -> None:
    """``serve`` holds the refresh token for as long as it runs; the opt-out, for a
    person debugging it, leaves it as any process."""
    with running_issuer(FakeIssuer()) as issuer:
        write_login(nobody_home, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
        give_to_nobody(nobody_home)
        broker = start_as_nobody(["serve"], {**issuer_env(nobody_home, issuer), **opt_out})
        try:
            read_until(broker, READY)
            assert read_by_nobody(broker.pid) == seen
            assert os.stat(f"/proc/{broker.pid}/environ").st_uid == owner
        finally:
            os.kill(broker.pid, signal.SIGTERM)  # the PID we started, and only it
            broker.communicate(timeout=WAIT)
    assert broker.returncode == 0
