"""The file store's path variant (home_access.Paths), the one native Windows takes, forced
here on Linux on real files: the same checks, reached by path instead of by descriptor."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_login.adapters.account_shelf import DirectoryShelf
from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.home_access import Paths
from codex_login.adapters.owned_paths import Owners
from codex_login.domain.errors import StorageError, UntrustedPath
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support import age
from support.keyring_backends import MemoryKeyring
from support.records import chatgpt_record


def api_key_record() -> CredentialRecord:
    return CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-by-path")


@pytest.fixture
def access() -> Paths:
    return Paths()


@pytest.fixture
def store(tmp_path: Path, access: Paths) -> FileCredentialStore:
    return FileCredentialStore(tmp_path / "home", access=access)


@pytest.fixture
def relative_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of codex-login's own code that names a file relative to a directory
    descriptor (``dir_fd``), or scans, syncs or stats a descriptor that is a directory."""
    seen: list[str] = []

    def recording(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            ours = sys._getframe(1).f_globals.get("__name__", "").startswith("codex_login")
            relative = any(kwargs.get(key) is not None for key in ("dir_fd", "src_dir_fd"))
            if ours and (relative or (args and isinstance(args[0], int) and _is_dir(args[0]))):
                seen.append(name)
            return real(*args, **kwargs)

        return call

    for name in ("open", "stat", "unlink", "replace", "mkdir", "scandir", "fsync", "fstat"):
        monkeypatch.setattr(os, name, recording(name, getattr(os, name)))
    return seen


def _is_dir(fd: int) -> bool:
    try:
        return os.path.isdir(f"/proc/self/fd/{fd}")
    except OSError:
        return False


def test_no_directory_descriptor_is_used(
    store: FileCredentialStore, access: Paths, relative_calls: list[str]
) -> None:
    store.save(chatgpt_record())
    with store.exclusive(), store.reserve(api_key_record()):
        store.save(api_key_record())
    assert store.load() is not None
    store.check_writable()
    assert store.delete()
    assert store.load() is None
    assert relative_calls == []
    assert access._paths == {}  # every handle given back


def test_the_account_shelf_goes_by_path_too(
    tmp_path: Path, access: Paths, relative_calls: list[str]
) -> None:
    """A parked login's slot (``accounts/<name>/``) is made, checked and listed by path."""
    home = tmp_path / "home"
    shelf = DirectoryShelf(
        home / "accounts", lambda slot: FileCredentialStore(slot, access=access), access=access
    )
    assert shelf.names() == []
    shelf.slot("work").save(api_key_record())
    assert shelf.names() == ["work"]
    assert shelf.slot("work").load() is not None
    assert (home / "accounts" / "work" / "auth.json").stat().st_mode & 0o777 == 0o600
    assert relative_calls == []
    assert access._paths == {}  # every handle given back


def test_the_encrypted_store_goes_by_path_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access: Paths, relative_calls: list[str]
) -> None:
    """The encrypted layout's ``secrets/`` is made, checked and written by path."""
    pyrage = pytest.importorskip("pyrage")
    monkeypatch.setattr(pyrage.passphrase, "encrypt", age.encrypt)  # not about scrypt's cost
    home = tmp_path / "home"
    files = FileCredentialStore(home, access=access)
    store = EncryptedCredentialStore(home, backend=MemoryKeyring(), files=files)
    with store.exclusive():
        store.save(api_key_record())
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == api_key_record()
    assert (home / "secrets").stat().st_mode & 0o777 == 0o700
    assert relative_calls == []
    assert access._paths == {}  # every handle given back


def test_the_posix_variant_is_seen_using_them(tmp_path: Path, relative_calls: list[str]) -> None:
    """The recorder above sees what it looks for: the default store works by descriptor."""
    FileCredentialStore(tmp_path / "home").save(chatgpt_record())
    assert {"open", "replace", "fsync"} <= set(relative_calls)


def test_the_commit_is_a_private_temp_file_renamed_over_auth_json(
    store: FileCredentialStore,
) -> None:
    store.save(chatgpt_record())
    leftover = store.codex_home / ".auth-0123456789ab"
    leftover.write_text("{}")  # a killed writer's
    store.save(api_key_record())
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == api_key_record()
    assert sorted(path.name for path in store.codex_home.iterdir()) == [
        "auth.json",
        "auth.json.lock",
        "auth.lock",
    ]
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.codex_home.stat().st_mode & 0o777 == 0o700


def test_a_users_link_is_followed_to_its_checked_directory(
    tmp_path: Path, store: FileCredentialStore
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir(mode=0o700)
    store.codex_home.mkdir(mode=0o700)
    store.path.symlink_to(dotfiles / "auth.json")
    store.save(chatgpt_record())
    assert store.path.is_symlink()
    assert (dotfiles / "auth.json").stat().st_size > 0
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == chatgpt_record()
    assert store.delete()
    assert not store.path.is_symlink()
    assert not (dotfiles / "auth.json").exists()


def test_a_home_others_can_write_in_is_refused(store: FileCredentialStore) -> None:
    store.codex_home.mkdir(mode=0o700)
    store.codex_home.chmod(0o777)
    with pytest.raises(UntrustedPath, match="chmod 700"):
        store.load()


def test_a_fifo_is_refused_not_waited_on(store: FileCredentialStore) -> None:
    store.codex_home.mkdir(mode=0o700)
    os.mkfifo(store.path, 0o600)
    with pytest.raises(StorageError, match="a FIFO"):
        store.load()


def test_a_directory_reached_through_a_parent_is_never_a_link(
    tmp_path: Path, access: Paths
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "secrets").symlink_to(tmp_path / "elsewhere")
    parent = access.open_directory(tmp_path, Owners())
    with pytest.raises(OSError, match="Too many levels of symbolic links") as refused:
        access.open_directory(tmp_path / "secrets", Owners(), parent=parent)
    assert refused.value.errno == errno.ELOOP
    access.close(parent)


def test_a_handle_is_no_descriptor_and_dies_with_its_close(tmp_path: Path, access: Paths) -> None:
    handle = access.open_directory(tmp_path, Owners())
    assert handle < -1
    assert access.dup(handle) != handle
    access.close(handle)
    with pytest.raises(OSError, match="Bad file descriptor") as closed:
        access.fstat(handle)
    assert closed.value.errno == errno.EBADF
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(handle)  # a descriptor call given a handle fails: it reaches no file
