"""Whose lock files, slot directories and secrets directories the stores use, on
real files (issue 20, item 2).

These run in the test process, as root. The other user is ``nobody``: files are
given to it with ``chown``/``lchown``, as if it had made them. Root trusts only its
own files (and the owner CODEX_LOGIN_TRUST_OWNER names), so a file of nobody's is a
foreign file here. The CLI-level attacks, with nobody as the user under attack, are
in test_credential_ownership.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codex_login.adapters.account_shelf import DirectoryShelf
from codex_login.adapters.auth_json import encode
from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.owned_paths import Owners
from codex_login.domain.errors import StorageError, UntrustedPath
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from support.keyring_backends import MemoryKeyring
from support.other_users import NOBODY_GID, NOBODY_UID

API_KEY_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-key")
NEW_RECORD = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-new-key")


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("giving files to another user needs root")


def give_to_nobody(path: Path) -> Path:
    os.chown(path, NOBODY_UID, NOBODY_GID, follow_symlinks=False)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# -- lock files ----------------------------------------------------------------------


@pytest.mark.parametrize("lock_name", ["auth.lock", "auth.json.lock"])
def test_a_lock_file_another_user_owns_is_refused(tmp_path: Path, lock_name: str) -> None:
    """Its owner could hold the lock for ever, or swap the file under us."""
    store = FileCredentialStore(tmp_path)
    store.save(API_KEY_RECORD)
    lock = give_to_nobody(tmp_path / lock_name)
    with pytest.raises(UntrustedPath, match=rf"refusing to use {lock}: it belongs to nobody"):
        FileCredentialStore(tmp_path).save(NEW_RECORD)
    assert store.path.read_bytes() == encode(API_KEY_RECORD)
    assert lock.stat().st_uid == NOBODY_UID


@pytest.mark.parametrize("planted_by", ["the user", "another user"])
@pytest.mark.parametrize("lock_name", ["auth.lock", "auth.json.lock"])
def test_a_symlinked_lock_file_is_not_followed(
    tmp_path: Path, lock_name: str, planted_by: str
) -> None:
    """Before, the lock was taken through the link and the target chmod'ed to 0600
    by path; a writer must never create, truncate or chmod a file elsewhere."""
    home, elsewhere = tmp_path / "codex", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    victim = elsewhere / "config"
    victim.write_text("keep me")
    victim.chmod(0o644)
    link = home / lock_name
    link.symlink_to(victim)
    if planted_by == "another user":
        give_to_nobody(link)
    with pytest.raises(StorageError, match=rf"cannot lock {link}: it is a symbolic link"):
        FileCredentialStore(home).save(API_KEY_RECORD)
    assert (victim.read_text(), mode_of(victim)) == ("keep me", 0o644)
    assert link.is_symlink()
    assert not (home / "auth.json").exists()


def test_a_link_to_a_missing_lock_file_creates_nothing_there(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    (home / "auth.lock").symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(StorageError, match="symbolic link"):
        FileCredentialStore(home).save(API_KEY_RECORD)
    assert not (tmp_path / "created-through-the-link").exists()


def test_a_lock_file_is_tightened_through_its_descriptor_not_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chmod race of _tighten_file: a stat and a chmod by path, between which the
    file could be swapped for a link. Now the descriptor that was opened without
    following links is the one changed, and no path is chmod'ed at all."""
    (tmp_path / "auth.lock").touch()
    (tmp_path / "auth.lock").chmod(0o666)

    def no_chmod_by_path(path: object, mode: int, **kwargs: object) -> None:
        raise AssertionError(f"chmod by path: {path}")

    monkeypatch.setattr(os, "chmod", no_chmod_by_path)
    FileCredentialStore(tmp_path).save(API_KEY_RECORD)
    assert mode_of(tmp_path / "auth.lock") == 0o600
    assert mode_of(tmp_path / "auth.json.lock") == 0o600


# -- directories ---------------------------------------------------------------------


def test_a_group_writable_directory_of_a_private_group_is_accepted(tmp_path: Path) -> None:
    """Debian's ssh rule: a umask of 002 with user private groups gives nobody else
    anything. root's group has root as its only member here."""
    home = tmp_path / "codex"
    home.mkdir()
    home.chmod(0o770)
    store = FileCredentialStore(home)
    store.save(API_KEY_RECORD)
    assert store.load() is not None
    assert mode_of(home) == 0o700  # ours: tightened on write, as before


def test_a_directory_of_the_trusted_owner_is_used_and_not_chmodded(tmp_path: Path) -> None:
    home = tmp_path / "mounted"
    home.mkdir()
    home.chmod(0o750)
    give_to_nobody(home)
    with pytest.raises(UntrustedPath, match="CODEX_LOGIN_TRUST_OWNER=65534"):
        FileCredentialStore(home).save(API_KEY_RECORD)
    assert list(home.iterdir()) == []
    trusted = FileCredentialStore(home, owners=Owners(named=NOBODY_UID))
    trusted.save(API_KEY_RECORD)
    assert trusted.load() is not None
    assert mode_of(home) == 0o750


def test_an_accounts_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "accounts"
    root.mkdir()
    (root / "work").mkdir()
    give_to_nobody(root)
    shelf = DirectoryShelf(root, FileCredentialStore)
    with pytest.raises(UntrustedPath, match=rf"refusing to use {root}: it belongs to nobody"):
        shelf.names()
    with pytest.raises(UntrustedPath, match=rf"refusing to use {root}"):
        shelf.slot("work")


def test_accounts_in_a_codex_home_another_user_owns_are_refused(tmp_path: Path) -> None:
    """Whoever can write in CODEX_HOME can swap accounts/ itself."""
    home = tmp_path / "codex"
    (home / "accounts" / "work").mkdir(parents=True)
    home.chmod(0o777)
    shelf = DirectoryShelf(home / "accounts", FileCredentialStore)
    with pytest.raises(UntrustedPath, match=rf"refusing to use {home}: its mode 0777"):
        shelf.names()
    with pytest.raises(UntrustedPath, match=rf"refusing to use {home}: its mode 0777"):
        shelf.slot("personal")
    assert not (home / "accounts" / "personal").exists()


def test_a_slot_directory_others_can_write_in_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "accounts"
    shelf = DirectoryShelf(root, FileCredentialStore)
    shelf.slot("work").save(API_KEY_RECORD)
    assert (mode_of(root), mode_of(root / "work")) == (0o700, 0o700)
    (root / "work").chmod(0o777)
    with pytest.raises(UntrustedPath, match=r"mode 0777 lets every user write in it"):
        shelf.slot("work")
    give_to_nobody(root / "work")
    (root / "work").chmod(0o700)
    with pytest.raises(UntrustedPath, match=r"work: it belongs to nobody"):
        shelf.slot("work")


# -- the encrypted layout's secrets/ -----------------------------------------------------


def encrypted_store(home: Path) -> EncryptedCredentialStore:
    return EncryptedCredentialStore(home, backend=MemoryKeyring())


def test_a_secrets_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "codex_auth.age").write_bytes(b"planted")
    give_to_nobody(secrets)
    with pytest.raises(UntrustedPath, match=rf"refusing to use {secrets}: it belongs to nobody"):
        encrypted_store(tmp_path).load()
    with pytest.raises(UntrustedPath, match=rf"refusing to use {secrets}"):
        encrypted_store(tmp_path).save(API_KEY_RECORD)
    assert (secrets / "codex_auth.age").read_bytes() == b"planted"


def test_a_planted_secrets_file_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    planted = secrets / "codex_auth.age"
    planted.write_bytes(b"planted")
    give_to_nobody(planted)
    with pytest.raises(UntrustedPath, match=rf"refusing to use {planted}: it belongs to nobody"):
        encrypted_store(tmp_path).load()


def test_a_symlinked_secrets_directory_or_file_is_not_followed(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "codex", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (elsewhere / "codex_auth.age").write_bytes(b"elsewhere")
    (home / "secrets").symlink_to(elsewhere)
    with pytest.raises(
        StorageError, match=r"secrets: it is a symbolic link, which is not followed"
    ):
        encrypted_store(home).load()
    with pytest.raises(StorageError, match=r"secrets: it is a symbolic link"):
        encrypted_store(home).save(API_KEY_RECORD)
    (home / "secrets").unlink()
    (home / "secrets").mkdir()
    (home / "secrets" / "codex_auth.age").symlink_to(elsewhere / "codex_auth.age")
    with pytest.raises(StorageError, match="it is a symbolic link, which is not followed"):
        encrypted_store(home).load()
    assert (elsewhere / "codex_auth.age").read_bytes() == b"elsewhere"
