"""Who holds a flock on a file, as far as the OS will say.

Linux lists every lock in ``/proc/locks``, one a line::

    1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146835 0 EOF
    2: -> FLOCK  ADVISORY  WRITE 5678 fe:00:2146835 0 EOF

The fields are: number, kind, advisory or mandatory, read or write, PID, and
``MAJOR:MINOR:INODE`` (device numbers in hex, inode in decimal). A ``->`` marks a
process waiting for the lock, not holding it.

macOS has no /proc: ``lsof -F pc FILE`` (bounded by ``LSOF_TIMEOUT``) names the
processes that have the lock file open, this one left out; it cannot tell a holder
from a waiter, and where lsof is missing or slow nobody is named. Elsewhere (Windows)
nothing is known and the holder goes unnamed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")
LSOF_TIMEOUT = 2.0  # seconds: a wait notice is not worth a longer wait


def flock_holders(proc_locks: str, device: int, inode: int) -> list[int]:
    """PIDs holding a ``flock`` on the file ``(device, inode)``, from /proc/locks text."""
    pids: list[int] = []
    for line in proc_locks.splitlines():
        fields = line.split()
        # Waiters ("->" in the second field) and POSIX/OFD locks are not flock holders.
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        pid, file_id = fields[4], fields[5]
        # A PID of 0 is a process outside our PID namespace: no use to name it.
        if _is_file(file_id, device, inode) and pid.isdigit() and int(pid) > 0:
            pids.append(int(pid))
    return list(dict.fromkeys(pids))


def describe_holders(path: Path) -> str | None:
    """``process 1234 (codex)`` for whoever holds a flock on ``path``; None when unknown."""
    if sys.platform == "darwin":
        return _named(lsof_holders(lsof_output(path), os.getpid()))
    elif sys.platform == "win32":
        return None
    else:
        return _proc_locks_holders(path)


def lsof_output(path: Path) -> str:
    """What ``lsof -F pc path`` prints, within ``LSOF_TIMEOUT``; nothing on failure."""
    import subprocess  # noqa: PLC0415  (macOS, and only while a lock is waited for)

    try:
        done = subprocess.run(  # noqa: S603  (a fixed program, the path as one argument)
            ["lsof", "-F", "pc", "--", str(path)],  # noqa: S607  (lsof from PATH, as a user's)
            capture_output=True,
            text=True,
            timeout=LSOF_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def lsof_holders(output: str, own_pid: int) -> list[tuple[int, str]]:
    """The (pid, command) pairs of ``lsof -F pc`` output, ``own_pid`` left out."""
    found: dict[int, str] = {}
    pid: int | None = None
    for line in output.splitlines():
        kind, value = line[:1], line[1:]
        if kind == "p":
            pid = int(value) if value.isdigit() and int(value) != own_pid else None
            if pid is not None:
                found.setdefault(pid, "")
        elif kind == "c" and pid is not None:
            found[pid] = value
    return list(found.items())


def _named(holders: list[tuple[int, str]]) -> str | None:
    if not holders:
        return None
    return ", ".join(f"process {pid}" + (f" ({name})" if name else "") for pid, name in holders)


def _proc_locks_holders(path: Path) -> str | None:
    try:
        info = os.stat(path)
        text = PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    pids = flock_holders(text, info.st_dev, info.st_ino)
    if not pids:
        return None
    return ", ".join(f"process {pid}{_command(pid)}" for pid in pids)


def _is_file(file_id: str, device: int, inode: int) -> bool:
    parts = file_id.split(":")
    if len(parts) != 3:
        return False
    try:
        found = (int(parts[0], 16), int(parts[1], 16), int(parts[2]))
    except ValueError:
        return False
    if sys.platform == "win32":  # no /proc/locks, no device numbers
        return False
    else:
        return found == (os.major(device), os.minor(device), inode)


def _command(pid: int) -> str:
    """`` (name)`` of process ``pid`` when /proc tells it, else nothing."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text(errors="replace").strip()
    except OSError:
        return ""
    return f" ({name})" if name else ""
