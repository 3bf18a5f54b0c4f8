"""Waiting for another writer's lock is visible and bounded by CODEX_LOGIN_LOCK_TIMEOUT."""

from __future__ import annotations

from pathlib import Path

from support.cli import clean_env, run_in_process
from support.locks import lock_held_elsewhere


def test_a_held_lock_is_named_and_the_wait_ends_at_the_set_bound(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    lock = tmp_path / "auth.lock"
    with lock_held_elsewhere(lock) as holder:
        result = run_in_process(
            "login",
            "--with-api-key",
            stdin="sk-test-key-000000000",
            env=clean_env(tmp_path, CODEX_LOGIN_LOCK_TIMEOUT="1.5"),
        )
    assert result.returncode == 1
    waiting, error = result.stderr.splitlines()
    assert waiting.startswith(f"Waiting for {lock}, held by process {holder.pid} ")
    assert "giving up after 1.5 s" in waiting
    assert error.startswith(f"Error: gave up after 1.5 s waiting for {lock}")
    assert "CODEX_LOGIN_LOCK_TIMEOUT" in error
    assert not (tmp_path / "auth.json").exists()


def test_an_unusable_lock_timeout_is_a_clear_error(tmp_path: Path) -> None:
    for value in ("soon", "0", "-1"):
        result = run_in_process("status", env=clean_env(tmp_path, CODEX_LOGIN_LOCK_TIMEOUT=value))
        assert result.returncode == 1
        assert result.stderr.strip().startswith("Error: CODEX_LOGIN_LOCK_TIMEOUT=")
