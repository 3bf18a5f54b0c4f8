"""The Windows branches of the file helpers, driven here with the platform made explicit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from codex_login.adapters import owned_paths, store_core
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.errors import ConfigurationError
from support.cli import clean_env, run_in_process


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")


@pytest.mark.usefixtures("on_windows")
def test_room_is_reserved_by_writing_zeros_without_pwrite(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "reserve", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"xx")  # the offset moves: the zeros still start at 0
        store_core._allocate(fd, 70_000)
    finally:
        os.close(fd)
    assert (tmp_path / "reserve").read_bytes() == bytes(70_000)


@pytest.mark.usefixtures("on_windows")
def test_a_trusted_owner_by_name_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigurationError, match="Windows has no uids") as caught:
        owned_paths.uid_of("alice")
    assert "\n" not in str(caught.value)
    assert owned_paths.uid_of("1000") == 1000


@pytest.mark.usefixtures("on_windows")
def test_names_of_owners_are_numbers_there() -> None:
    assert owned_paths.who(0) == "uid 0"


@pytest.mark.usefixtures("on_windows")
def test_modes_are_left_to_the_acl(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("{}")
    path.chmod(0o644)
    fd = os.open(path, os.O_RDONLY)
    try:
        info = os.fstat(fd)
        owned_paths.make_private(fd, info, 0o600, owned_paths.Owners(euid=info.st_uid))
    finally:
        os.close(fd)
    assert path.stat().st_mode & 0o777 == 0o644  # no fchmod: Windows has only ACLs


@pytest.mark.usefixtures("on_windows")
def test_the_file_store_refuses_native_windows_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        FileCredentialStore(tmp_path)
    said = str(refused.value)
    assert "\n" not in said
    assert "native Windows" in said
    assert "WSL 2" in said
    assert list(tmp_path.iterdir()) == []  # nothing made or touched


@pytest.mark.usefixtures("on_windows")
def test_status_on_native_windows_is_that_one_line(tmp_path: Path) -> None:
    result = run_in_process("status", env=clean_env(tmp_path))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "native Windows" in line
    assert "Traceback" not in result.stderr
