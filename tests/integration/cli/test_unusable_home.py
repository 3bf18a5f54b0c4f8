"""A CODEX_HOME that cannot be one (a file, a directory closed to us): one line that
names it and the fix, from every command, and nothing touched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.domain.login_policy import LoginPolicy
from codex_login.entrypoints.bootstrap import bootstrap
from support.cli import CLI, clean_env, run_in_process
from support.other_users import AS_A_USER_WOULD, need_root_and_setpriv

COMMANDS = [
    ("status",),
    ("token",),
    ("logout",),
    ("accounts",),
    ("export",),
    ("login", "--with-api-key"),
]
YOURS = "use a directory of your own (CODEX_HOME or --codex-home)"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_in_codex_homes_place_is_named_by_every_command(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    home = tmp_path / "codex"
    home.write_bytes(b"notes, not credentials")
    result = run_in_process(*command, home=home, stdin="sk-test-key-000000000")
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: the credential directory {home} is not a directory (it is a file); "
        f"move that away, or {YOURS}\n",
    )
    assert home.read_bytes() == b"notes, not credentials"


def test_a_path_through_a_file_is_named_too(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "codex"
    result = run_in_process("status", home=home)
    assert result.returncode == 1
    assert f"{home} is not a directory (a part of its path is a file)" in result.stderr


def test_doctor_says_only_what_is_wrong_with_the_directory(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.write_text("")
    result = run_in_process("doctor", "--json", home=home)
    assert result.returncode == 1
    assert json.loads(result.stdout)["checks"] == [
        {
            "name": "credential directory",
            "ok": False,
            "said": f"the credential directory {home} is not a directory (it is a file)",
            "fix": f"move that away, or {YOURS}",
        }
    ]


def refused_as_a_user(home: Path, command: tuple[str, ...], said: str, fix: str) -> str:
    """Run ``command`` as a user would meet ``home`` (no root's reach past modes); it
    fails with ``said`` and ``fix``, on stderr or as doctor's one check. All it printed."""
    need_root_and_setpriv()
    result = subprocess.run(
        [*AS_A_USER_WOULD, str(CLI), *command],
        env=clean_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    if command == ("doctor",):
        assert result.stdout == f"✗ credential directory: {said}\n    fix: {fix}\n"
    else:
        assert result.stderr == f"Error: {said}; {fix}\n"
    return result.stdout + result.stderr


@pytest.mark.parametrize("command", [("status",), ("token",), ("doctor",)], ids=" ".join)
def test_a_directory_closed_to_us_says_to_open_it(tmp_path: Path, command: tuple[str, ...]) -> None:
    """It used to be blamed on a config.toml that does not exist."""
    home = tmp_path / "codex"
    home.mkdir(mode=0o000)
    said = f"cannot open the credential directory {home}: permission denied"
    printed = refused_as_a_user(home, command, said, f"run `chmod 700 {home}`")
    assert "config.toml" not in printed


@pytest.mark.parametrize("command", [("status",), ("doctor",)], ids=" ".join)
def test_a_closed_directory_above_codex_home_is_named(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """It used to be blamed on config.toml, and doctor crashed on it."""
    home = tmp_path / "closed" / "codex"
    home.mkdir(parents=True)
    home.parent.chmod(0o000)
    said = f"cannot reach the credential directory {home}: a directory above it is closed to you"
    refused_as_a_user(home, command, said, f"open it (`chmod +x` each one), or {YOURS}")


def test_something_other_than_a_file_is_not_called_a_file() -> None:
    result = run_in_process("status", home=Path("/dev/null"))
    assert result.stderr == (
        "Error: the credential directory /dev/null is not a directory (something else is "
        f"there); move that away, or {YOURS}\n"
    )


def test_an_embedder_with_a_store_of_its_own_is_not_refused(tmp_path: Path) -> None:
    """Its login is not in CODEX_HOME; config.toml, which is, is only looked for."""
    home = tmp_path / "codex"
    home.write_text("")
    service = bootstrap(
        store=MemoryCredentialStore(),
        login_policy=LoginPolicy(),
        environ={"CODEX_HOME": str(home)},
    )
    assert service.status() is None
