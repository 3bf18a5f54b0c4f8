"""Only a regular file is auth.json: FIFOs, devices, directories and sockets are
refused at once, never read, blocked on or replaced."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from codex_login.adapters.file_store import MAX_FILE_BYTES, FileCredentialStore
from codex_login.domain.errors import MalformedCredentials, StorageError
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-key")

# A reader that blocks fails here rather than at the suite's 300 s timeout.
pytestmark = pytest.mark.timeout(30)


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_load_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    make_fifo(tmp_path / "auth.json")
    with pytest.raises(StorageError, match=r"auth\.json: it is a FIFO \(named pipe\), not a file"):
        FileCredentialStore(tmp_path).load()


def test_fingerprint_of_a_fifo_does_not_block(tmp_path: Path) -> None:
    make_fifo(tmp_path / "auth.json")
    assert FileCredentialStore(tmp_path).fingerprint() is not None


def test_load_refuses_a_link_to_dev_zero(tmp_path: Path) -> None:
    (tmp_path / "auth.json").symlink_to("/dev/zero")
    with pytest.raises(
        StorageError, match=r"\(a link to /dev/zero\): it is a character device, not a file"
    ):
        FileCredentialStore(tmp_path).load()


def test_load_refuses_a_directory(tmp_path: Path) -> None:
    (tmp_path / "auth.json").mkdir()
    with pytest.raises(StorageError, match="it is a directory, not a file"):
        FileCredentialStore(tmp_path).load()


def test_load_refuses_a_unix_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "auth.json"))
        with pytest.raises(StorageError, match="it is a socket, not a file"):
            FileCredentialStore(tmp_path).load()


def test_load_refuses_a_file_over_16_mib(tmp_path: Path) -> None:
    with open(tmp_path / "auth.json", "wb") as big:
        big.truncate(17 * 2**20)
    with pytest.raises(StorageError, match="is larger than 16 MiB; it cannot be a credential file"):
        FileCredentialStore(tmp_path).load()


def test_a_file_of_exactly_16_mib_is_read(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_bytes(b" " * MAX_FILE_BYTES)
    with pytest.raises(MalformedCredentials):
        FileCredentialStore(tmp_path).load()


def test_errors_name_one_line_and_keep_the_cause(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "auth.json"))
        with pytest.raises(StorageError) as raised:
            FileCredentialStore(tmp_path).load()
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_save_and_delete_refuse_what_is_not_a_file_and_change_nothing(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "auth.json"
    if kind == "fifo":
        make_fifo(path)
    else:
        path.mkdir()
    store = FileCredentialStore(tmp_path)
    with pytest.raises(StorageError, match=r"cannot replace .*, not a file"):
        store.save(API_KEY_RECORD)
    with pytest.raises(StorageError, match=r"cannot delete .*, not a file"):
        store.delete()
    assert stat.S_ISFIFO(path.lstat().st_mode) == (kind == "fifo")
    assert path.exists()
    assert not any(p.name.startswith(".auth-") for p in tmp_path.iterdir())


def test_save_through_a_link_to_a_fifo_leaves_the_fifo(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    fifo = make_fifo(tmp_path / "pipe")
    (home / "auth.json").symlink_to(fifo)
    with pytest.raises(StorageError, match=r"\(a link to .*pipe\): it is a FIFO"):
        FileCredentialStore(home).save(API_KEY_RECORD)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert (home / "auth.json").is_symlink()
