"""Other local users for the tests that need one: the real CLI run as ``nobody``, and
files owned by a uid that is neither ``nobody`` nor root.

The tests run as root. ``nobody`` plays a normal user (setpriv drops to it); the
other party's files are made by root and given to ``OTHER_UID`` with ``os.chown``,
which is what that user would have made (root can neither be the attacker, since
root is trusted, nor the victim of a bare ``nobody`` without a home).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.cli import CLI, clean_env

NOBODY_UID = 65534
NOBODY_GID = 65534
# Another local user, without a name on this system: only ever an owner of files.
OTHER_UID = 4242
OTHER_GID = 4242


AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
# Root reads any file: without these capabilities it meets a mode as a user does.
AS_A_USER_WOULD = (
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
)
CLOSED = "nobody cannot run"  # tests/conftest.py fails such skips under CI


def need_root_and_setpriv() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("playing other users needs root and setpriv (util-linux)")


def need_nobody_to_run_the_cli() -> None:
    """Skip, saying why, where ``nobody`` cannot start the installed CLI: a checkout
    below a directory closed to other users (a 0700 home or temp directory)."""
    need_root_and_setpriv()
    refused = _why_nobody_cannot_run_the_cli()
    if refused:
        pytest.skip(
            f"{CLOSED} {CLI} ({refused}); check out where other users may pass "
            "(every directory above it o+x)"
        )


@functools.cache
def _why_nobody_cannot_run_the_cli() -> str:
    tried = subprocess.run(
        [*AS_NOBODY, str(CLI), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    said = tried.stderr.strip().splitlines() or [f"exit {tried.returncode}"]
    return "" if tried.returncode == 0 else said[-1]


@contextmanager
def shared_base() -> Iterator[Path]:
    """``open_to_others()`` where other users are played (root and setpriv)."""
    need_root_and_setpriv()
    with open_to_others("codex-owners-") as path:
        yield path


@contextmanager
def open_to_others(prefix: str) -> Iterator[Path]:
    """A directory every user can pass through (0711, root's), outside pytest's 0700 tree."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owned_dir(path: Path, uid: int, gid: int, mode: int = 0o700) -> Path:
    """A directory at ``path`` as user ``uid`` would have made it."""
    path.mkdir()
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def owned_file(path: Path, data: str, uid: int, gid: int, mode: int = 0o600) -> Path:
    path.write_text(data)
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def owned_link(path: Path, target: Path, uid: int, gid: int) -> Path:
    """A symbolic link at ``path`` that user ``uid`` planted (lchown: the link itself)."""
    path.symlink_to(target)
    os.chown(path, uid, gid, follow_symlinks=False)
    return path


def run_cli_as_nobody(
    *args: str, home: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """The real ``codex-login`` run as ``nobody`` with CODEX_HOME=``home``."""
    need_nobody_to_run_the_cli()
    environment = clean_env(home, HOME=str(home.parent), **env)
    result = subprocess.run(
        [*AS_NOBODY, str(CLI), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result
