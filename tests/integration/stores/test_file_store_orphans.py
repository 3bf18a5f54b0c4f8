"""Temp files left by writers killed before their rename, and who removes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.other_users import NOBODY_GID, NOBODY_UID

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-key")
LOCK_FILES = ["auth.json.lock", "auth.lock"]

# A writer that stops between writing its temp file and renaming it: it reports the
# temp file's name, then blocks until it is killed.
_WRITER = """
import os, sys
from pathlib import Path
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord

def stop_before_rename(temp, target, *, src_dir_fd, dst_dir_fd):  # names in a directory fd
    print(Path(os.readlink(f"/proc/self/fd/{src_dir_fd}")) / temp, flush=True)
    sys.stdin.read()

os.replace = stop_before_rename
record = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key=sys.argv[2])
FileCredentialStore(Path(sys.argv[1])).save(record)
"""


def kill_a_writer_before_its_rename(home: Path, key: str = "sk-orphaned-key") -> Path:
    """Start a writer, SIGKILL it once its temp file is written; return that file."""
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(home), key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        temp = Path(writer.stdout.readline().strip())
        writer.kill()
    assert temp.name.startswith(".auth-")
    assert key in temp.read_text()  # the orphan holds a live secret
    return temp


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_the_next_save_removes_a_killed_writers_temp_file(tmp_path: Path) -> None:
    orphan = kill_a_writer_before_its_rename(tmp_path)
    assert names(tmp_path) == sorted([orphan.name, *LOCK_FILES])
    FileCredentialStore(tmp_path).save(API_KEY_RECORD)
    assert names(tmp_path) == sorted(["auth.json", *LOCK_FILES])


def test_logout_removes_a_killed_writers_temp_file(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    store.save(API_KEY_RECORD)
    kill_a_writer_before_its_rename(tmp_path)
    assert store.delete() is True
    assert names(tmp_path) == LOCK_FILES


def test_logout_without_auth_json_still_removes_orphaned_temp_files(tmp_path: Path) -> None:
    kill_a_writer_before_its_rename(tmp_path)
    assert FileCredentialStore(tmp_path).delete() is False
    assert names(tmp_path) == LOCK_FILES


def test_orphans_beside_a_linked_auth_json_are_removed_there(tmp_path: Path) -> None:
    home, dotfiles = tmp_path / "codex", tmp_path / "dotfiles"
    home.mkdir()
    dotfiles.mkdir()
    (dotfiles / "auth.json").write_text("{}")
    (home / "auth.json").symlink_to(dotfiles / "auth.json")
    orphan = kill_a_writer_before_its_rename(home)
    assert orphan.parent == dotfiles
    FileCredentialStore(home).save(API_KEY_RECORD)
    assert names(dotfiles) == ["auth.json"]


def test_the_sweep_leaves_links_directories_and_other_names_alone(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "codex", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret").write_text("keep me")
    (home / ".auth-link").symlink_to(elsewhere / "secret")
    (home / ".auth-dir").mkdir()
    (home / "auth-backup").write_text("not a temp file")
    FileCredentialStore(home).save(API_KEY_RECORD)
    FileCredentialStore(home).delete()
    assert names(home) == sorted([".auth-dir", ".auth-link", "auth-backup", *LOCK_FILES])
    assert (elsewhere / "secret").read_text() == "keep me"


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_the_sweep_leaves_other_users_files_alone(tmp_path: Path) -> None:
    theirs = tmp_path / ".auth-theirs"
    theirs.write_text("{}")
    os.chown(theirs, NOBODY_UID, NOBODY_GID)
    FileCredentialStore(tmp_path).save(API_KEY_RECORD)
    assert theirs.exists()
