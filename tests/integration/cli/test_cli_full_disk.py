"""`token` on a full disk: the room for the commit is taken before the refresh token is
spent, so a refresh that could not be saved is never sent (a small tmpfs as the disk)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login.adapters.file_store import RESERVE_MARGIN
from support.cli import run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored, write_login

DISK_BYTES = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of our own, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    place = tmp_path / "disk"
    place.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(place)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield place
    finally:
        subprocess.run(["umount", str(place)], check=True)


def fill(disk: Path, *, leave: int = 0) -> None:
    """Take every free byte of ``disk``, then give back ``leave`` bytes."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = bytes(4096)
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        if leave:
            os.ftruncate(fd, max(os.fstat(fd).st_size - leave, 0))
    finally:
        os.close(fd)


def test_no_room_for_the_commit_refuses_before_the_refresh_is_sent(
    disk: Path, issuer: FakeIssuer
) -> None:
    home = disk / "codex"
    before = write_login(home, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
    fill(disk)
    result = run_in_process("token", env=issuer_env(home, issuer))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "no refresh was sent" in line, line
    assert str(home) in line
    assert result.stdout == ""
    assert issuer.posts("refresh_token") == []
    assert (home / "auth.json").read_bytes() == before
    assert [p.name for p in home.iterdir() if p.name.startswith(".auth-")] == []


def test_just_enough_room_for_the_commit_lets_the_refresh_commit(
    disk: Path, issuer: FakeIssuer
) -> None:
    home = disk / "codex"
    first = issuer.new_refresh_token()
    before = write_login(home, first, expires_in=timedelta(minutes=-1))
    fill(disk, leave=len(before) + RESERVE_MARGIN + 8192)
    result = run_in_process("token", env=issuer_env(home, issuer))
    assert result.returncode == 0, result.stderr
    assert len(issuer.posts("refresh_token")) == 1
    tokens = stored(home)["tokens"]
    assert tokens["refresh_token"] != first
    assert issuer.refresh_token_works(tokens["refresh_token"])
    assert result.stdout.strip() == tokens["access_token"]
    assert [p.name for p in home.iterdir() if p.name.startswith(".auth-")] == []
