"""Holding a flock from another process, as a competing tool would."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLDER = """
import fcntl, sys
fd = open(sys.argv[1], "a+")
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def lock_held_elsewhere(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process holds an exclusive flock on ``path`` until the block ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        yield child
    finally:
        if child.stdin is not None and child.stdin.closed:
            child.stdin = None  # let go early (``let_go``): nothing more to send
        child.communicate(timeout=10)


def let_go(holder: subprocess.Popen[str]) -> None:
    """The holder of ``lock_held_elsewhere`` releases the lock now (its stdin ends)."""
    assert holder.stdin is not None
    holder.stdin.close()


def is_locked(path: Path) -> bool:
    """True when some process holds an exclusive flock on ``path``."""
    import fcntl  # noqa: PLC0415  (POSIX-only: imported when used, see support/posix.py)

    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


# Linux system call numbers, which differ between architectures.
SYSCALLS = {"x86_64": {"read": 0, "flock": 73}, "aarch64": {"read": 63, "flock": 32}}


def in_syscall(pid: int, name: str, first_argument: int | None = None) -> bool:
    """Whether some thread of ``pid`` is inside system call ``name`` right now."""
    number = str(SYSCALLS[platform.machine()][name])
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "syscall").read_text().split()
        if len(fields) < 2 or fields[0] != number:
            continue
        if first_argument is None or int(fields[1], 16) == first_argument:
            return True
    return False
