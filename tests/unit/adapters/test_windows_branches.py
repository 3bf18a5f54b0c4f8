"""The Windows branches of the file helpers, driven here with the platform made explicit."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_login.adapters import home_access, owned_paths, store_core
from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.home_access import Paths
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support import age
from support.cli import clean_env, run_in_process
from support.fake_kernel32 import install
from support.keyring_backends import MemoryKeyring


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")


@pytest.fixture
def without_dir_fd(monkeypatch: pytest.MonkeyPatch) -> None:
    """The os module as native Windows has it: no call takes a directory descriptor,
    a directory cannot be opened with os.open, and os.scandir takes no descriptor."""

    def refusing(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if any(kwargs.get(key) is not None for key in ("dir_fd", "src_dir_fd", "dst_dir_fd")):
                raise NotImplementedError("dir_fd unavailable on this platform")
            return real(*args, **kwargs)

        return call

    for name in ("stat", "unlink", "replace", "mkdir", "rmdir"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))
    real_open, real_scandir = refusing(os.open), os.scandir

    def open_file(path: Any, *args: Any, **kwargs: Any) -> int:
        if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
            raise PermissionError(13, "Permission denied", str(path))
        return int(real_open(path, *args, **kwargs))

    def scandir(path: Any = ".") -> Any:
        if isinstance(path, int):
            raise TypeError("scandir: path should be string, bytes, os.PathLike or None, not int")
        return real_scandir(path)

    monkeypatch.setattr(os, "open", open_file)
    monkeypatch.setattr(os, "scandir", scandir)


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
def test_the_file_store_starts_there_reaching_its_directories_by_path(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path / "home")
    assert isinstance(store.access, Paths)  # Windows opens no directory: no dir_fd there
    assert list(tmp_path.iterdir()) == []  # nothing made until something is written


@pytest.mark.usefixtures("on_windows", "without_dir_fd")
def test_the_encrypted_store_reaches_its_secrets_directory_by_path_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """secrets/ is made, checked and written by path, as CODEX_HOME is."""
    pyrage = pytest.importorskip("pyrage")
    monkeypatch.setattr(pyrage.passphrase, "encrypt", age.encrypt)  # not about scrypt's cost
    install(monkeypatch)
    home = tmp_path / "home"
    store = EncryptedCredentialStore(home, backend=MemoryKeyring())
    record = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-sealed")
    with store.exclusive():
        store.save(record)
    loaded = store.load()
    assert loaded is not None
    assert loaded.record == record
    assert b"sk-sealed" not in (home / "secrets" / "codex_auth.age").read_bytes()
    assert not (home / "auth.json").exists()


@pytest.mark.usefixtures("on_windows", "without_dir_fd")
def test_status_and_a_login_on_native_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The CLI in this process, the platform made win32: the store goes by path, and
    each writer's lock is the Codex CLI's LockFileEx, recorded by the fake kernel32."""
    kernel = install(monkeypatch)
    home = tmp_path / "home"
    before = run_in_process("status", env=clean_env(home))
    assert (before.returncode, before.stderr) == (1, "Not logged in\n")
    assert kernel.calls == []  # a read takes no lock

    login = run_in_process("login", "--with-api-key", stdin="sk-windows\n", env=clean_env(home))
    assert login.returncode == 0, login.stderr
    locks = [(home / name).stat().st_ino for name in ("auth.lock", "auth.json.lock")]
    assert kernel.taken == locks  # auth.lock, then auth.json.lock, as the Codex CLI
    most = 0xFFFF_FFFF
    assert [call[0] for call in kernel.calls] == ["LockFileEx"] * 2 + ["UnlockFile"] * 2
    # LockFileEx(handle, EXCLUSIVE | FAIL_IMMEDIATELY, 0, MAX, MAX, offset 0, offset high 0)
    assert all(call[2:] == (0x3, 0, most, most, 0, 0) for call in kernel.calls[:2])
    # UnlockFile(handle, 0, 0, MAX, MAX)
    assert all(call[2:] == (0, 0, most, most) for call in kernel.calls[2:])
    assert kernel.holders == {}  # both given back

    after = run_in_process("status", env=clean_env(home))
    assert after.returncode == 0
    assert after.stderr.startswith("API key configured")
    assert "Traceback" not in before.stderr + login.stderr + after.stderr
    assert json.loads((home / "auth.json").read_text())["OPENAI_API_KEY"] == "sk-windows"


@pytest.mark.usefixtures("on_windows", "without_dir_fd")
def test_a_second_login_parks_the_first_as_an_account_on_native_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The account shelf (``accounts/<name>/``) is reached by path there, as CODEX_HOME."""
    install(monkeypatch)
    home = tmp_path / "home"
    for key in ("sk-windows-first", "sk-windows-second"):
        login = run_in_process("login", "--with-api-key", stdin=f"{key}\n", env=clean_env(home))
        assert login.returncode == 0, login.stderr
    assert "keeps" in login.stderr or "kept" in login.stderr, login.stderr
    listed = run_in_process("accounts", env=clean_env(home))
    assert listed.returncode == 0, listed.stderr
    assert "sk-windo***first" in listed.stdout + listed.stderr
    assert "sk-windo***econd" in listed.stdout + listed.stderr
    assert (home / "accounts").is_dir()


@pytest.mark.usefixtures("on_windows", "without_dir_fd")
def test_the_local_commands_work_on_native_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every command that needs no issuer, one after another, as a user would on Windows."""
    install(monkeypatch)
    home = tmp_path / "home"
    env = clean_env(home)
    for key in ("sk-windows-first", "sk-windows-second"):
        assert run_in_process("login", "--with-api-key", stdin=f"{key}\n", env=env).returncode == 0
    steps = {
        ("token",): "sk-windows-second",
        ("status", "--json"): '"mode": "apikey"',
        ("switch", "api-key"): "Switched to api-key",
        ("accounts", "--json"): '"api_key": "sk-windo***econd"',
        ("doctor",): "holds an API key (sk-windo***first)",
        ("export",): '"OPENAI_API_KEY": "sk-windows-first"',
        ("logout",): "Successfully logged out",
    }
    for argv, expected in steps.items():
        result = run_in_process(*argv, env=env)
        assert result.returncode == 0, (argv, result.stderr)
        assert expected in result.stdout + result.stderr, (argv, result.stdout, result.stderr)
    assert not (home / "auth.json").exists()


@pytest.mark.usefixtures("on_windows")
def test_a_rename_waits_a_moment_for_a_reader_that_keeps_it_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Windows refuses a rename over a file another process has open without
    FILE_SHARE_DELETE (Python's open): the path variant tries again within SHARING_WAIT."""
    refusals = [PermissionError(13, "Access is denied")] * 2
    renamed: list[tuple[str, str]] = []

    def replace(source: Path, target: Path) -> None:
        if refusals:
            raise refusals.pop()
        renamed.append((source.name, target.name))

    monkeypatch.setattr(os, "replace", replace)
    access = home_access.Paths()
    home = access.open_directory(tmp_path, owned_paths.Owners())
    access.replace(".auth-1", "auth.json", dir_fd=home)
    assert renamed == [(".auth-1", "auth.json")]
    assert refusals == []

    monkeypatch.setattr(home_access, "SHARING_WAIT", 0.05)
    refusals.extend([PermissionError(13, "Access is denied")] * 1000)
    with pytest.raises(PermissionError):  # held past the wait: the error is the answer
        access.replace(".auth-2", "auth.json", dir_fd=home)
