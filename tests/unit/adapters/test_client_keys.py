"""The client keys file: its lines, its rules, and re-reading it when it changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codex_login.adapters.client_keys import ClientKeyFile, parse_client_keys, read_client_keys
from codex_login.domain.errors import ConfigurationError

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
KEY_C = "key-c-0123456789abcdef"


def write_keys(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys(tmp_path / "clients", f"sandbox-a {KEY_A}\nsandbox-b {KEY_B}\n")


def test_lines_give_names_and_comments_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    text = f"# the CI sandboxes\n\n  sandbox-a   {KEY_A}  \n\t\nci.runner_2 {KEY_B}\n  # gone\n"
    keys = parse_client_keys(text, tmp_path / "clients")
    assert keys.names == ("sandbox-a", "ci.runner_2")
    assert keys.name_of(KEY_A.encode()) == "sandbox-a"
    assert keys.name_of(KEY_B.encode()) == "ci.runner_2"
    assert keys.name_of(KEY_C.encode()) is None
    assert keys.name_of(KEY_A[:-1].encode()) is None
    assert KEY_A not in repr(keys)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        pytest.param(KEY_A, "expected NAME KEY, two fields", id="a key alone"),
        pytest.param(f"sandbox a {KEY_A}", "expected NAME KEY, two fields", id="three fields"),
        pytest.param(f"sand/box {KEY_A}", "a NAME is 1-64 letters", id="a slash in the name"),
        pytest.param(f"{'n' * 65} {KEY_A}", "a NAME is 1-64 letters", id="a long name"),
        pytest.param(f"secret {KEY_A}", "the NAME secret is kept", id="the reserved name"),
        pytest.param("sandbox-c short-key", "at least 16 visible ASCII", id="a short key"),
        pytest.param(f"sandbox-c {KEY_C}é", "at least 16 visible ASCII", id="a non-ASCII key"),
        pytest.param(f"sandbox-a {KEY_C}", "its NAME is on line 1 already", id="a name twice"),
        pytest.param(f"sandbox-c {KEY_A}", "its KEY is on line 1 already", id="a key twice"),
    ],
)
def test_a_malformed_line_is_one_line_naming_its_number_never_its_key(
    tmp_path: Path, line: str, why: str
) -> None:
    path = tmp_path / "clients"
    with pytest.raises(ConfigurationError) as raised:
        parse_client_keys(f"sandbox-a {KEY_A}\n# a comment\n{line}\n", path)
    message = str(raised.value)
    assert message.startswith(f"the client keys file {path}, line 3: "), message
    assert why in message
    assert "\n" not in message
    for key in (KEY_A, KEY_C, "short-key"):
        assert key not in message


def test_columns_swapped_are_refused_without_showing_the_keys(tmp_path: Path) -> None:
    text = f"sandbox-a {KEY_A}\n{KEY_A.upper()} {'x' * 20}\nother {KEY_A.upper()}\n"
    with pytest.raises(ConfigurationError, match="a NAME that is also a KEY") as raised:
        parse_client_keys(text, tmp_path / "clients")
    assert KEY_A.upper() not in str(raised.value)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "clients"
    with pytest.raises(ConfigurationError) as raised:
        read_client_keys(path)
    message = str(raised.value)
    assert message.startswith(f"cannot read the client keys file {path}: No such file")
    assert "make one with: (umask 077; echo" in message


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_a_file_others_can_read_or_change_is_refused(keys_file: Path, mode: int) -> None:
    keys_file.chmod(mode)
    with pytest.raises(ConfigurationError) as raised:
        read_client_keys(keys_file)
    assert str(raised.value) == (
        f"the client keys file {keys_file} has mode {mode:04o}, so other users can read or "
        f"change it; run: chmod 600 {keys_file}"
    )


def test_a_file_another_user_owns_is_refused(keys_file: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(keys_file, 65534, 65534)
    with pytest.raises(ConfigurationError, match="belongs to uid 65534") as raised:
        read_client_keys(keys_file)
    assert "umask 077" in str(raised.value)


def test_an_edit_in_place_is_seen_by_the_next_lookup(keys_file: Path) -> None:
    keys = ClientKeyFile(keys_file)
    assert keys.name_of(KEY_B.encode()) == "sandbox-b"
    with keys_file.open("w") as file:  # the same inode, maybe the same size and mtime tick
        file.write(f"sandbox-a {KEY_A}\nsandbox-c {KEY_C}\n")
    assert keys.name_of(KEY_B.encode()) is None
    assert keys.name_of(KEY_C.encode()) == "sandbox-c"
    assert keys.names == ("sandbox-a", "sandbox-c")


def test_a_file_renamed_over_it_is_seen_by_the_next_lookup(keys_file: Path) -> None:
    keys = ClientKeyFile(keys_file)
    assert keys.name_of(KEY_A.encode()) == "sandbox-a"
    new = write_keys(keys_file.with_name("clients.new"), f"sandbox-c {KEY_C}\n")
    new.replace(keys_file)
    assert keys.name_of(KEY_A.encode()) is None
    assert keys.name_of(KEY_C.encode()) == "sandbox-c"


def test_an_unchanged_file_is_not_read_again(
    keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    an_hour_ago = time.time() - 3600
    os.utime(keys_file, (an_hour_ago, an_hour_ago))
    keys = ClientKeyFile(keys_file)
    keys.keys()

    def read_again(path: Path) -> object:
        pytest.fail(f"{path} was read again")

    monkeypatch.setattr("codex_login.adapters.client_keys.read_client_keys", read_again)
    for _ in range(3):
        assert keys.name_of(KEY_A.encode()) == "sandbox-a"


def test_a_file_changed_just_now_is_read_at_each_lookup_until_it_is_older(
    keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two edits within one tick of the file times leave the same times and size."""
    keys = ClientKeyFile(keys_file)
    keys.keys()
    reads: list[Path] = []
    real = read_client_keys

    def counted(path: Path) -> object:
        reads.append(path)
        return real(path)

    monkeypatch.setattr("codex_login.adapters.client_keys.read_client_keys", counted)
    keys.keys()
    keys.keys()
    assert len(reads) == 2
    an_hour_ago = time.time() - 3600
    os.utime(keys_file, (an_hour_ago, an_hour_ago))
    keys.keys()  # read once more: the times changed
    keys.keys()
    assert len(reads) == 3


@pytest.mark.parametrize(
    "breaks",
    ["a bad line", "mode 0644", "deleted"],
)
def test_a_file_that_goes_bad_lets_no_key_in_until_fixed(keys_file: Path, breaks: str) -> None:
    keys = ClientKeyFile(keys_file)
    assert keys.name_of(KEY_A.encode()) == "sandbox-a"
    if breaks == "a bad line":
        write_keys(keys_file, f"sandbox-a {KEY_A}\nsandbox-b\n")
    elif breaks == "mode 0644":
        keys_file.chmod(0o644)
    else:
        keys_file.unlink()
    assert keys.name_of(KEY_A.encode()) is None
    assert keys.problem is not None
    assert KEY_A not in keys.problem
    with pytest.raises(ConfigurationError):
        keys.keys()
    write_keys(keys_file, f"sandbox-a {KEY_A}\n")
    assert keys.name_of(KEY_A.encode()) == "sandbox-a"
    assert keys.problem is None
