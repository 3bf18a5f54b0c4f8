"""What `doctor` reads of a credential directory's files, without opening, locking or
changing any: modes and owners (``owned_paths``' rules), leftover temp files, and who
holds the locks (``/proc/locks``, read only: no lock is tried)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from codex_login.adapters.file_store import AUTH_FILE, TEMP_PREFIX
from codex_login.adapters.lock_holders import describe_holders
from codex_login.adapters.owned_paths import Owners, directory_problem, file_problem
from codex_login.adapters.store_core import COMMIT_LOCK, WRITER_LOCK, orphaned_temp_files

SECRETS_DIR = "secrets"
SECRETS_FILE = "codex_auth.age"
ACCOUNTS_DIR = "accounts"
# The files holding secrets: nobody else should even read them.
PRIVATE_FILES = (AUTH_FILE, f"{SECRETS_DIR}/{SECRETS_FILE}")
LOCK_FILES = (WRITER_LOCK, COMMIT_LOCK)


def path_problems(home: Path, owners: Owners) -> list[str]:
    """What is wrong with the owner or mode of ``home`` and the credential files in it,
    each with its fix; none for a directory that does not exist yet."""
    problems = []
    for directory in (home, home / SECRETS_DIR, home / ACCOUNTS_DIR):
        info = _lstat(directory)
        if info is not None and stat.S_ISDIR(info.st_mode):
            problem = directory_problem(info, directory, owners)
            if problem:
                problems.append(f"{directory}: {problem}")
    for name in PRIVATE_FILES + LOCK_FILES:
        path = home / name
        info = _lstat(path)
        if info is None or not stat.S_ISREG(info.st_mode):
            continue
        private = name in PRIVATE_FILES
        problem = file_problem(info, path, owners, private=private) or (
            _readable_by_others(info, path) if private else None
        )
        if problem:
            problems.append(f"{path}: {problem}")
    return problems


def _readable_by_others(info: os.stat_result, path: Path) -> str | None:
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"its mode {mode:04o} lets other users read the secrets; run `chmod 600 {path}`"
    return None


def leftover_temp_files(home: Path, owners: Owners) -> list[str]:
    """The ``.auth-*`` temp files in ``home`` (a killed writer's, or a live one's)."""
    return [str(home / name) for name in sorted(orphaned_temp_files(home, owners, TEMP_PREFIX))]


def held_locks(home: Path) -> list[tuple[str, str | None]]:
    """The lock files of ``home`` some process holds now, and who, as the OS says."""
    held: list[tuple[str, str | None]] = []
    for name in LOCK_FILES:
        path = home / name
        if _lstat(path) is None:
            continue
        holder = describe_holders(path)
        if holder is not None:
            held.append((str(path), holder))
    return held


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
