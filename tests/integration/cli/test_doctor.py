"""``codex-login doctor`` (issue 26, item 3): one line per check, ✓ or ✗, the fix beside
each ✗; exit 0 when all pass, 1 otherwise; read-only, offline unless --online.

Each check meets a CODEX_HOME that trips it: real files, a lock held by a child
process, a real broker, the real Secret Service. In-process with a fake IO, except
the one run that needs a stdout in ASCII.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyrage
import pytest

from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.keyring_store import KeyringCredentialStore
from codex_login.adapters.redis.config import connect
from codex_login.adapters.redis.store import RedisCredentialStore
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.entrypoints.bootstrap import bootstrap
from support import age
from support.broker import broker_in_thread
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import FakeIssuer
from support.locks import lock_held_elsewhere
from support.logins import issuer_env, write_login
from support.records import chatgpt_record
from support.redis_server import (  # noqa: F401  (fixtures)
    RedisServer,
    free_port,
    redis_server_fixture,
)
from support.schemas import validated
from support.secret_service import SecretService
from support.tokens import access_token

KEY = "sk-test-doctor-0123456789abcdef"


def logged_in(home: Path, issuer: FakeIssuer) -> dict[str, str]:
    """A healthy ChatGPT login bound to the fake issuer, and the environment naming it."""
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url)
    (home / "auth.json").chmod(0o600)
    return issuer_env(home, issuer)


def doctor(
    env: dict[str, str], *args: str, child: bool = False
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """Exit code, the checks by name (from --json, validated) and the lines as printed.
    ``child``: in child processes (the keyring package picks its backend once a process)."""
    run = run_cli if child else run_in_process
    document = run("doctor", "--json", *args, env=env)
    checks = validated("doctor", document.stdout)
    lines = run("doctor", *args, env=env)
    assert lines.returncode == document.returncode
    assert checks["ok"] is (document.returncode == 0)
    return document.returncode, {c["name"]: c for c in checks["checks"]}, lines.stdout


def failing(checks: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, check in checks.items() if not check["ok"]}


def snapshot(home: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


# -- a healthy home ----------------------------------------------------------------------


def test_a_healthy_home_passes_every_check_one_line_each(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    code, checks, out = doctor(env)
    assert code == 0, out
    assert failing(checks) == set()
    assert list(checks) == [
        "store",
        "stored logins",
        "environment",
        "issuer",
        "login policy",
        "access token",
        "file modes",
        "temp files",
        "locks",
        "broker",
    ]
    assert all(check["fix"] is None for check in checks.values())
    assert [line[:2] for line in out.splitlines()] == ["✓ "] * len(checks)
    assert "user@example.com" in checks["stored logins"]["said"]
    assert issuer.url in checks["issuer"]["said"]


def test_doctor_changes_nothing_and_asks_no_issuer_without_online(
    home: Path, issuer: FakeIssuer
) -> None:
    env = logged_in(home, issuer)
    (home / "auth.lock").touch(mode=0o600)
    (home / ".auth-leftover").write_text("{}")
    expired = json.loads((home / "auth.json").read_text())
    expired["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(hours=1))
    (home / "auth.json").write_text(json.dumps(expired))  # due: a refresh would write
    before = snapshot(home)
    names = set(os.listdir(home))
    doctor(env)
    assert snapshot(home) == before
    assert set(os.listdir(home)) == names
    assert issuer.requests == []


def test_online_asks_for_the_issuers_metadata(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    code, checks, _ = doctor(env, "--online")
    assert code == 0
    assert checks["issuer metadata"]["ok"]
    assert {r.path for r in issuer.requests} == {"/.well-known/openid-configuration"}


def test_online_says_when_the_issuer_is_unreachable(home: Path, issuer: FakeIssuer) -> None:
    write_login(home, "rt", expires_in=timedelta(hours=1), issuer="http://127.0.0.1:9")
    (home / "auth.json").chmod(0o600)
    code, checks, out = doctor(clean_env(home), "--online")
    assert code == 1
    assert failing(checks) == {"issuer metadata"}
    assert "127.0.0.1:9" in checks["issuer metadata"]["said"]
    assert "\n    fix: " in out


# -- each check, tripped -------------------------------------------------------------------


def test_not_logged_in_says_to_log_in(home: Path) -> None:
    code, checks, out = doctor(clean_env(home))
    assert code == 1
    assert failing(checks) == {"stored logins"}
    assert "codex-login login" in checks["stored logins"]["fix"]
    assert "✗ stored logins" in out


def test_a_codex_home_not_made_yet_is_not_called_private(tmp_path: Path) -> None:
    home = tmp_path / "not-yet"
    code, checks, _ = doctor(clean_env(home))
    assert code == 1  # not logged in
    assert checks["file modes"]["ok"]
    assert checks["file modes"]["said"] == "CODEX_HOME does not exist yet (made 0700 when used)"
    assert not home.exists()


def test_a_malformed_file_is_said_once_and_its_fix_is_what_to_do(home: Path) -> None:
    path = home / "auth.json"
    path.write_text('{"auth_mode": "chatgpt", "tokens": {"id_token": "x')
    code, checks, _ = doctor(clean_env(home))
    assert code == 1
    assert checks["stored logins"]["said"] == (
        f"{path} cannot be read: it is not valid JSON (Unterminated string starting at "
        "line 1 column 49)"
    )
    assert checks["stored logins"]["fix"] == "fix it or run `codex-login login` to replace it"


def test_a_store_variable_the_codex_cli_does_not_follow_is_named(
    home: Path, issuer: FakeIssuer
) -> None:
    env = logged_in(home, issuer)
    (home / "config.toml").write_text('cli_auth_credentials_store = "ephemeral"\n')
    code, checks, _ = doctor({**env, "CODEX_LOGIN_STORE": "file"})
    assert code == 1
    assert failing(checks) == {"store"}
    said = checks["store"]["said"]
    assert "CODEX_LOGIN_STORE=file" in said
    assert "the Codex CLI uses ephemeral" in said


def test_a_keychain_entry_and_auth_json_holding_different_logins_disagree(
    home: Path, secret_service: SecretService
) -> None:
    (home / "config.toml").write_text('cli_auth_credentials_store = "keyring"\n')
    KeyringCredentialStore(home, backend=CodexSecretService()).save(chatgpt_record())
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY}))
    (home / "auth.json").chmod(0o600)
    code, checks, out = doctor(clean_env(home), child=True)
    assert code == 1
    assert "stored logins" in failing(checks)
    said = checks["stored logins"]["said"]
    assert "a ChatGPT login of user@example.com" in said
    assert "an API key" in said
    assert KEY not in out


def test_the_keyring_store_alone_is_healthy(home: Path, secret_service: SecretService) -> None:
    (home / "config.toml").write_text('cli_auth_credentials_store = "keyring"\n')
    record = chatgpt_record(expires_at=datetime.now(UTC) + timedelta(hours=1))
    KeyringCredentialStore(home, backend=CodexSecretService()).save(record)
    code, checks, out = doctor(clean_env(home), child=True)
    assert code == 0, out
    assert "codex-login uses keyring" in checks["store"]["said"]
    assert "the OS keyring" in checks["stored logins"]["said"]


def test_an_environment_key_that_wins_over_the_login_is_named_masked(
    home: Path, issuer: FakeIssuer
) -> None:
    env = {**logged_in(home, issuer), "CODEX_API_KEY": KEY, "CODEX_ACCESS_TOKEN": "at-secret-1"}
    code, checks, out = doctor(env)
    assert code == 1
    assert failing(checks) == {"environment"}
    said = checks["environment"]["said"]
    assert said.index("CODEX_API_KEY") < said.index("CODEX_ACCESS_TOKEN")
    assert "unset CODEX_API_KEY" in checks["environment"]["fix"]
    assert KEY not in out
    assert "at-secret-1" not in out


def test_openai_api_key_alone_is_a_login(home: Path) -> None:
    code, checks, out = doctor(clean_env(home, OPENAI_API_KEY=KEY))
    assert code == 0, out
    assert "OPENAI_API_KEY" in checks["environment"]["said"]
    assert KEY not in out


def test_half_a_workload_identity_is_unusable(home: Path, issuer: FakeIssuer) -> None:
    env = {**logged_in(home, issuer), "OPENAI_FEDERATION_RULE_ID": "rule-1"}
    code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"environment"}


def test_a_login_bound_to_another_issuer(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    env["CODEX_LOGIN_ISSUER"] = "https://auth.example.com"
    code, checks, _ = doctor(env)
    assert code == 1
    assert "issuer" in failing(checks)
    assert issuer.url in checks["issuer"]["said"]
    assert "CODEX_LOGIN_ISSUER" in checks["issuer"]["fix"]


def test_a_policy_that_refuses_the_login(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    (home / "config.toml").write_text('forced_login_method = "api"\n')
    code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"login policy"}
    assert "forced_login_method" in checks["login policy"]["fix"]


def test_an_access_token_issued_in_the_future_means_a_skewed_clock(
    home: Path, issuer: FakeIssuer
) -> None:
    env = logged_in(home, issuer)
    document = json.loads((home / "auth.json").read_text())
    later = datetime.now(UTC) + timedelta(hours=2)
    document["tokens"]["access_token"] = access_token(later, issued_at=later - timedelta(hours=1))
    (home / "auth.json").write_text(json.dumps(document))
    code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"access token"}
    assert "clock" in checks["access token"]["said"]


def test_an_expired_access_token_is_no_failure(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    document = json.loads((home / "auth.json").read_text())
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(minutes=5))
    (home / "auth.json").write_text(json.dumps(document))
    code, checks, _ = doctor(env)
    assert code == 0
    assert "refreshed on next use" in checks["access token"]["said"]


@pytest.mark.parametrize(
    ("target", "mode", "fix"),
    [("auth.json", 0o644, "chmod 600"), (".", 0o777, "chmod 700")],
)
def test_loose_modes_are_named_with_their_chmod(
    home: Path, issuer: FakeIssuer, target: str, mode: int, fix: str
) -> None:
    env = logged_in(home, issuer)
    (home / target).chmod(mode)
    try:
        code, checks, _ = doctor(env)
    finally:
        (home / target).chmod(0o700 if target == "." else 0o600)
    assert code == 1
    assert "file modes" in failing(checks)
    assert fix in checks["file modes"]["said"]
    assert checks["file modes"]["fix"].startswith(fix)


def test_stray_temp_files_are_listed(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    (home / ".auth-x1y2z3").write_text("{}")
    code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"temp files"}
    assert str(home / ".auth-x1y2z3") in checks["temp files"]["fix"]


def test_a_held_lock_names_its_holder(home: Path, issuer: FakeIssuer) -> None:
    env = logged_in(home, issuer)
    with lock_held_elsewhere(home / "auth.lock") as holder:
        code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"locks"}
    assert f"process {holder.pid}" in checks["locks"]["said"]


def test_a_broker_that_answers(home: Path, issuer: FakeIssuer, tmp_path: Path) -> None:
    env = logged_in(home, issuer)
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    with broker_in_thread(service, tmp_path / "broker.sock") as served:
        code, checks, _ = doctor({**env, "CODEX_LOGIN_BROKER": str(served.socket)})
    assert code == 0
    assert checks["broker"]["ok"]
    assert issuer.requests == []


def test_a_broker_that_does_not_answer(home: Path, issuer: FakeIssuer, tmp_path: Path) -> None:
    env = {**logged_in(home, issuer), "CODEX_LOGIN_BROKER": str(tmp_path / "gone.sock")}
    code, checks, _ = doctor(env)
    assert code == 1
    assert failing(checks) == {"broker"}
    assert "codex-login serve" in checks["broker"]["fix"]


def test_a_stdout_in_ascii_gets_ascii_marks(home: Path, issuer: FakeIssuer) -> None:
    env = {**logged_in(home, issuer), "PYTHONIOENCODING": "ascii"}
    result: subprocess.CompletedProcess[str] = run_cli("doctor", env=env)
    assert result.returncode == 0, result.stderr
    assert [line.split(" ")[0] for line in result.stdout.splitlines()] == ["ok"] * 10


def test_the_encrypted_layout_is_read_and_named(
    home: Path, secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "config.toml").write_text(
        'cli_auth_credentials_store = "keyring"\n[features]\nsecret_auth_storage = true\n'
    )
    record = chatgpt_record(expires_at=datetime.now(UTC) + timedelta(hours=1))
    # The store's own save, with an age key at scrypt 2^10 rather than Codex's 2^19: each
    # of the two doctors decrypts it in milliseconds instead of a second and a half.
    monkeypatch.setattr(pyrage.passphrase, "encrypt", age.encrypt)
    EncryptedCredentialStore(home, backend=CodexSecretService()).save(record)
    code, checks, out = doctor(clean_env(home), child=True)
    assert code == 0, out
    assert "encrypted layout" in checks["store"]["said"]
    assert "user@example.com" in checks["stored logins"]["said"]


def test_a_login_in_redis(home: Path, issuer: FakeIssuer, redis_server: RedisServer) -> None:
    env = logged_in(home, issuer)
    document = (home / "auth.json").read_bytes()
    (home / "auth.json").unlink()
    env |= {
        "CODEX_LOGIN_STORE": "redis",
        "CODEX_LOGIN_REDIS_URL": redis_server.url,
        "CODEX_LOGIN_REDIS_PREFIX": f"doctor-{os.getpid()}-{home.parent.name}",
    }
    assert run_in_process("import", stdin=document, env=env).returncode == 0
    code, checks, out = doctor(env)
    assert code == 0, out
    said = checks["stored logins"]["said"]
    assert "user@example.com" in said
    assert "auth.json holds nothing" in said
    assert checks["locks"]["said"] == "no lock held"
    assert checks["store"]["said"].endswith("`codex-login token` or the broker")
    # A writer holding the lease (here, this process) is named, as a file lock's holder is.
    prefix = env["CODEX_LOGIN_REDIS_PREFIX"]
    writer = RedisCredentialStore(connect(redis_server.url), prefix=prefix)
    try:
        with writer.exclusive():
            code, checks, _ = doctor(env)
    finally:
        writer.close()
    assert (code, failing(checks)) == (1, {"locks"})
    assert checks["locks"]["said"] == (
        f"the lease of {writer.location} held by pid {os.getpid()} on {socket.gethostname()}"
    )


def test_a_redis_store_that_does_not_answer(home: Path) -> None:
    env = clean_env(
        home, CODEX_LOGIN_STORE="redis", CODEX_LOGIN_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    code, checks, _ = doctor(env)
    assert code == 1
    assert "stored logins" in failing(checks)
    assert "cannot be read" in checks["stored logins"]["said"]
