"""`codex-login export` / `import`: a login moves between stores, never copied by accident."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from codex_login.entrypoints.cli.shared import HAND_OVER
from support.cli import CLI, clean_env, run_in_process
from support.posix import posix_module
from support.records import chatgpt_document


def write_login(home: Path) -> bytes:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    document = chatgpt_document(note="kept")
    document["last_refresh"] = "2026-11-28T10:45:43.654531Z"
    data = json.dumps(document, indent=2, ensure_ascii=False).encode()
    (home / "auth.json").write_bytes(data)
    return data


def pipeline(source: Path, target: Path, *export_args: str) -> tuple[int, int, str, str]:
    """`codex-login export ARGS | codex-login import` between two homes."""
    exporter = subprocess.Popen(
        [str(CLI), "--codex-home", str(source), "export", *export_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    importer = subprocess.run(
        [str(CLI), "--codex-home", str(target), "import"],
        stdin=exporter.stdout,
        capture_output=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert exporter.stdout is not None
    exporter.stdout.close()
    _, export_err = exporter.communicate(timeout=60)
    return exporter.returncode, importer.returncode, export_err.decode(), importer.stderr.decode()


def test_export_move_hands_the_login_over_byte_for_byte(tmp_path: Path) -> None:
    source, target = tmp_path / "laptop", tmp_path / "fleet"
    data = write_login(source)
    exported, imported, export_err, import_err = pipeline(source, target, "--move")
    assert (exported, imported) == (0, 0), export_err + import_err
    assert not (source / "auth.json").exists()
    assert (target / "auth.json").read_bytes() == data
    assert "removed the login" in export_err
    assert import_err.strip() == f"Imported the login into {target / 'auth.json'}"


def test_export_without_move_warns_that_two_copies_end_each_other(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    data = write_login(source)
    exported, imported, export_err, _ = pipeline(source, target)
    assert (exported, imported) == (0, 0)
    assert (source / "auth.json").read_bytes() == data
    assert "ends the other's session" in export_err


def test_export_refuses_a_terminal_unless_forced(tmp_path: Path) -> None:
    write_login(tmp_path)
    leader, follower = posix_module("pty").openpty()
    try:
        refused = subprocess.run(
            [str(CLI), "export"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=clean_env(tmp_path),
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert refused.returncode == 2
    assert b"live credential" in refused.stderr
    assert (tmp_path / "auth.json").exists()


def test_exporting_nothing_is_a_clear_error(tmp_path: Path) -> None:
    result = run_in_process("export", home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert "nothing to export" in result.stderr


def test_a_malformed_import_changes_nothing(tmp_path: Path) -> None:
    data = write_login(tmp_path)
    result = run_in_process("import", "--force", home=tmp_path, stdin='{"auth_mode": 3}')
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "the login on stdin" in line
    # What is wrong is the input, not a stored login: no "run codex-login login".
    assert line.endswith("; pipe in an auth.json as `codex-login export` writes it")
    assert (tmp_path / "auth.json").read_bytes() == data


def test_an_import_over_a_mebibyte_is_bad_input_not_a_usage_error(tmp_path: Path) -> None:
    result = run_in_process("import", home=tmp_path, stdin=b"{" + b" " * (1 << 20) + b"}")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: cannot use the login on stdin: it holds more than 1 MiB, so it is not a "
        "login; pipe in an auth.json as `codex-login export` writes it\n"
    )
    assert not (tmp_path / "auth.json").exists()


def test_importing_another_account_keeps_the_one_stored_as_an_account(tmp_path: Path) -> None:
    """As `login` does: `export --move | import` into a home that holds another login
    used to be refused after the export had removed the source, losing the login."""
    source, target = tmp_path / "a", tmp_path / "b"
    write_login(source)
    other = run_in_process("login", "--with-api-key", home=target, stdin="sk-test-other-0123456789")
    assert other.returncode == 0
    before = (target / "auth.json").read_bytes()
    exported = run_in_process("export", home=source)
    imported = run_in_process("import", home=target, stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    done, kept = imported.stderr.splitlines()
    assert done == f"Imported the login into {target / 'auth.json'}"
    name = kept.removeprefix("The previous login is kept as account ").split(";")[0]
    assert kept == (
        f"The previous login is kept as account {name}; `codex-login switch {name}` goes back"
    )
    assert (target / "auth.json").read_bytes() == (source / "auth.json").read_bytes()
    assert (target / "accounts" / name / "auth.json").read_bytes() == before


def test_importing_another_copy_of_the_same_account_needs_force(tmp_path: Path) -> None:
    """Which copy of one account is the live one cannot be told: keep the stored one
    unless told to replace it."""
    source, target = tmp_path / "a", tmp_path / "b"
    write_login(source)
    write_login(target)
    document = json.loads((target / "auth.json").read_bytes())
    document["last_refresh"] = "2026-11-29T08:00:00Z"
    (target / "auth.json").write_text(json.dumps(document, indent=2))
    before = (target / "auth.json").read_bytes()
    exported = run_in_process("export", home=source)
    refused = run_in_process("import", home=target, stdin=exported.stdout)
    assert refused.returncode == 1
    assert "already holds another login" in refused.stderr
    assert (target / "auth.json").read_bytes() == before
    forced = run_in_process("import", "--force", home=target, stdin=exported.stdout)
    assert forced.returncode == 0
    assert (target / "auth.json").read_bytes() == (source / "auth.json").read_bytes()


def test_an_export_nobody_reads_keeps_the_source(tmp_path: Path) -> None:
    data = write_login(tmp_path)
    exporter = subprocess.Popen(
        [str(CLI), "export", "--move"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
    )
    assert exporter.stdout is not None
    exporter.stdout.close()  # the importer died before reading a byte
    _, stderr = exporter.communicate(timeout=60)
    assert exporter.returncode == 141, stderr
    assert (tmp_path / "auth.json").read_bytes() == data


def test_the_documented_hand_over_keeps_the_login_when_the_import_fails(tmp_path: Path) -> None:
    """The help's pipeline, in a shell: an import that fails (here: the redis store
    without its URL) leaves the login where it was; one that succeeds removes it."""
    source = tmp_path / "laptop"
    data = write_login(source)
    env = clean_env(source, PATH=f"{CLI.parent}{os.pathsep}{os.environ['PATH']}")
    failed = subprocess.run(
        ["sh", "-c", HAND_OVER], env=env, capture_output=True, timeout=60, check=False
    )
    assert failed.returncode == 1
    assert b"CODEX_LOGIN_REDIS_URL" in failed.stderr
    assert (source / "auth.json").read_bytes() == data
    target = tmp_path / "server"
    moved = HAND_OVER.replace("CODEX_LOGIN_STORE=redis", f"CODEX_HOME={target}")
    done = subprocess.run(
        ["sh", "-c", moved], env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not (source / "auth.json").exists()
    assert (target / "auth.json").read_bytes() == data
