"""The file store on real files, with real flock locks held by other processes."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from codex_login.adapters.auth_json import encode
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.errors import (
    LockTimeout,
    MalformedCredentials,
    StorageError,
    UntrustedPath,
)
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.locks import is_locked, lock_held_elsewhere
from support.records import chatgpt_document, chatgpt_record

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-key")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_creates_a_private_home_and_file(tmp_path: Path) -> None:
    home = tmp_path / "missing" / "codex"
    store = FileCredentialStore(home)
    store.save(API_KEY_RECORD)
    assert store.path.read_bytes() == encode(API_KEY_RECORD)
    assert mode_of(home) == 0o700
    assert mode_of(store.path) == 0o600
    assert mode_of(home / "auth.lock") == 0o600
    assert mode_of(home / "auth.json.lock") == 0o600


def test_looser_modes_are_tightened_on_write(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "auth.json").write_text("{}")
    (home / "auth.json").chmod(0o644)
    (home / "auth.lock").touch()
    (home / "auth.lock").chmod(0o666)
    FileCredentialStore(home).save(API_KEY_RECORD)
    assert mode_of(home) == 0o700
    assert mode_of(home / "auth.json") == 0o600
    assert mode_of(home / "auth.lock") == 0o600


def test_a_shared_sticky_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(UntrustedPath, match=r"shared\.?.*mode 1777, like /tmp.*mkdir -m 700"):
        FileCredentialStore(shared).save(API_KEY_RECORD)
    assert mode_of(shared) == 0o1777
    assert list(shared.iterdir()) == []


def test_only_auth_json_and_the_lock_files_remain(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    for _ in range(3):
        store.save(chatgpt_record())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "auth.json",
        "auth.json.lock",
        "auth.lock",
    ]


def test_a_write_that_fails_before_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileCredentialStore(tmp_path)
    store.save(API_KEY_RECORD)
    before = store.path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StorageError, match="No space left on device"):
        store.save(chatgpt_record())
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "auth.json",
        "auth.json.lock",
        "auth.lock",
    ]


def test_load_reads_what_the_codex_cli_wrote(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text(json.dumps(chatgpt_document(), indent=2))
    loaded = FileCredentialStore(tmp_path).load()
    assert loaded is not None
    assert loaded.record.auth_mode is AuthMode.CHATGPT
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.account_id == "acc-123"


def test_missing_file_is_no_record(tmp_path: Path) -> None:
    assert FileCredentialStore(tmp_path / "nowhere").load() is None


def test_malformed_file_is_an_error_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_bytes(b'{"tokens": 5}')
    with pytest.raises(MalformedCredentials, match=str(path)):
        FileCredentialStore(tmp_path).load()
    assert path.read_bytes() == b'{"tokens": 5}'


def test_a_directory_in_place_of_the_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "auth.json").mkdir()
    with pytest.raises(StorageError, match="is a directory"):
        FileCredentialStore(tmp_path).load()


def test_codex_home_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "file"
    home.write_text("x")
    store = FileCredentialStore(home)
    with pytest.raises(StorageError, match="Not a directory"):
        store.load()
    with pytest.raises(StorageError, match="cannot create"):
        store.save(API_KEY_RECORD)


def test_delete(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    assert store.delete() is False
    store.save(API_KEY_RECORD)
    assert store.delete() is True
    assert not store.path.exists()
    assert store.load() is None


def test_fingerprint_changes_with_every_write(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    seen = {store.fingerprint()}
    for record in (API_KEY_RECORD, chatgpt_record(), API_KEY_RECORD):
        store.save(record)
        seen.add(store.fingerprint())
    store.delete()
    assert store.fingerprint() is None
    assert len(seen) == 4


@pytest.mark.parametrize("lock_name", ["auth.lock", "auth.json.lock"])
def test_a_writer_waits_for_a_lock_held_by_another_process(tmp_path: Path, lock_name: str) -> None:
    store = FileCredentialStore(tmp_path)
    store.save(API_KEY_RECORD)
    before = store.path.read_bytes()
    with lock_held_elsewhere(tmp_path / lock_name):
        finished = threading.Event()

        def write() -> None:
            store.save(chatgpt_record())
            finished.set()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        assert not finished.wait(0.5)
        assert store.path.read_bytes() == before
    assert finished.wait(30)
    writer.join()
    assert store.path.read_bytes() == encode(chatgpt_record())


@pytest.mark.parametrize("lock_name", ["auth.lock", "auth.json.lock"])
def test_a_lock_held_too_long_gives_up_cleanly(tmp_path: Path, lock_name: str) -> None:
    store = FileCredentialStore(tmp_path, writer_lock_timeout=0.3, commit_lock_timeout=0.3)
    store.save(API_KEY_RECORD)
    with lock_held_elsewhere(tmp_path / lock_name), pytest.raises(LockTimeout, match=lock_name):
        store.save(chatgpt_record())
    assert store.path.read_bytes() == encode(API_KEY_RECORD)


def test_exclusive_holds_auth_lock_and_is_reentrant(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    with store.exclusive():
        assert is_locked(tmp_path / "auth.lock")
        store.save(API_KEY_RECORD)
        assert is_locked(tmp_path / "auth.lock")
        assert not is_locked(tmp_path / "auth.json.lock")
    assert not is_locked(tmp_path / "auth.lock")


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.exclusive():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    second = FileCredentialStore(tmp_path, writer_lock_timeout=0.2)
    with pytest.raises(LockTimeout):
        second.save(API_KEY_RECORD)
    release.set()
    holder.join()
    second.save(API_KEY_RECORD)


def test_a_symlinked_auth_json_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    home, dotfiles = tmp_path / "codex", tmp_path / "dotfiles"
    home.mkdir()
    dotfiles.mkdir()
    (dotfiles / "auth.json").write_text("{}")
    (home / "auth.json").symlink_to(dotfiles / "auth.json")
    FileCredentialStore(home).save(API_KEY_RECORD)
    assert (home / "auth.json").is_symlink()
    assert (dotfiles / "auth.json").read_bytes() == encode(API_KEY_RECORD)
    assert mode_of(dotfiles / "auth.json") == 0o600
    assert sorted(p.name for p in dotfiles.iterdir()) == ["auth.json"]


def test_logout_through_a_link_removes_the_target_then_the_link(tmp_path: Path) -> None:
    home, dotfiles = tmp_path / "codex", tmp_path / "dotfiles"
    home.mkdir()
    dotfiles.mkdir()
    (home / "auth.json").symlink_to(dotfiles / "auth.json")
    notices: list[str] = []
    store = FileCredentialStore(home, notify=notices.append)
    store.save(API_KEY_RECORD)
    assert store.delete() is True
    assert not (dotfiles / "auth.json").exists()
    assert not (home / "auth.json").is_symlink()
    target = Path(os.path.realpath(dotfiles / "auth.json"))
    assert notices == [
        f"Removed {target} (auth.json was a link to it) and the link {home / 'auth.json'}"
    ]


def test_logout_through_a_dangling_link_removes_the_link(tmp_path: Path) -> None:
    (tmp_path / "auth.json").symlink_to(tmp_path / "gone" / "auth.json")
    notices: list[str] = []
    assert FileCredentialStore(tmp_path, notify=notices.append).delete() is True
    assert not (tmp_path / "auth.json").is_symlink()
    assert len(notices) == 1
    assert f"Removed the link {tmp_path / 'auth.json'}" in notices[0]


def test_notices_are_logged_at_info_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "auth.json").symlink_to(tmp_path / "gone")
    with caplog.at_level("INFO", logger="codex_login.adapters.file_store"):
        FileCredentialStore(tmp_path).delete()
    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == [
        f"Removed the link {tmp_path / 'auth.json'} "
        f"(it pointed to {os.path.realpath(tmp_path / 'gone')}, "
        "which does not exist)"
    ]
