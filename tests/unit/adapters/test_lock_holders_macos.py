"""Naming a lock's holder on macOS: lsof's field output, bounded in time."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from codex_login.adapters import lock_holders
from codex_login.adapters.lock_holders import lsof_holders

OUTPUT = "p4242\nccodex\np1234\ncpython3\np77\n"


def test_lsof_fields_give_pids_and_commands_without_this_process() -> None:
    assert lsof_holders(OUTPUT, own_pid=1234) == [(4242, "codex"), (77, "")]


@pytest.mark.parametrize("output", ["", "garbage\n", "pnot-a-pid\ncname\n"])
def test_unusable_lsof_output_names_nobody(output: str) -> None:
    assert lsof_holders(output, own_pid=1) == []


def test_on_macos_the_wait_notice_names_what_lsof_saw(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked: list[Path] = []

    def lsof_output(path: Path) -> str:
        asked.append(path)
        return OUTPUT

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(lock_holders, "lsof_output", lsof_output)
    lock = tmp_path / "auth.lock"
    assert lock_holders.describe_holders(lock) == (
        "process 4242 (codex), process 1234 (python3), process 77"
    )
    assert asked == [lock]


def test_on_macos_without_lsof_nobody_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("PATH", str(tmp_path))  # no lsof there
    assert lock_holders.describe_holders(tmp_path / "auth.lock") is None


def test_on_windows_nobody_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert lock_holders.describe_holders(tmp_path / "auth.lock") is None


@pytest.mark.skipif(shutil.which("lsof") is None, reason="lsof is not installed")
def test_real_lsof_names_a_process_holding_the_file_open(tmp_path: Path) -> None:
    lock = tmp_path / "auth.lock"
    with lock.open("w"):
        holders = lsof_holders(lock_holders.lsof_output(lock), own_pid=-1)
    assert os.getpid() in [pid for pid, _ in holders]
