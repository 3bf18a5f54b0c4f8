"""A failure is the same kind of failure read directly or through a broker, and says its
remedy once: `codex-login token` against a store and against a real `codex-login serve`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.broker import running_broker, unix_request
from support.cli import clean_env, run_in_process
from support.fake_issuer import Failure, FakeIssuer
from support.logins import issuer_env, write_login
from support.other_users import OTHER_GID, OTHER_UID, owned_dir, owned_file, shared_base

SIGN_IN = 4  # `token`'s exit status when a person must sign in (SPEC §5)
SET_UP = 1  # any other failure: a person fixes the set-up, no retry or sign-in cures it
MALFORMED = b'{"auth_mode": "chatgpt", "tokens": 42}'
API_KEY_DOCUMENT = '{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-planted-0123456789"}'


def host(tmp_path: Path) -> Path:
    home = tmp_path / "host"
    home.mkdir(mode=0o700)
    return home


def test_a_malformed_auth_json_exits_the_same_read_directly_or_through_a_broker(
    tmp_path: Path,
) -> None:
    """No retry cures a broken file: a person must fix or replace it, both ways."""
    home, sandbox = host(tmp_path), tmp_path / "sandbox"
    sandbox.mkdir()
    (home / "auth.json").write_bytes(MALFORMED)
    direct = run_in_process("token", home=home)
    with running_broker(home) as broker:
        brokered = run_in_process("token", "--broker", str(broker.socket), home=sandbox)
    assert (direct.returncode, direct.stdout) == (SIGN_IN, ""), direct.stderr
    assert (brokered.returncode, brokered.stdout) == (SIGN_IN, ""), brokered.stderr
    assert direct.stderr.startswith("Error: cannot use ")
    assert direct.stderr.endswith("; fix it or run `codex-login login` to replace it\n")
    [line] = brokered.stderr.splitlines()
    assert line.endswith("; on the host, fix it or run `codex-login login` to replace it")
    assert (home / "auth.json").read_bytes() == MALFORMED  # kept for a person to look at


def test_an_ended_session_through_a_broker_names_the_remedy_once(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home, sandbox = host(tmp_path), tmp_path / "sandbox"
    sandbox.mkdir()
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
    issuer.refresh_failure = Failure(401, '{"error": "refresh_token_reused"}')
    direct = run_in_process("token", env=issuer_env(home, issuer))
    with running_broker(home, env=issuer_env(home, issuer)) as broker:
        brokered = run_in_process("token", "--broker", str(broker.socket), home=sandbox)
    assert (direct.returncode, brokered.returncode) == (SIGN_IN, SIGN_IN)
    [said] = direct.stderr.splitlines()
    assert said.count("codex-login login") == 1
    assert said.endswith("; run `codex-login login` to sign in again")
    [relayed] = brokered.stderr.splitlines()
    assert relayed.count("codex-login login") == 1, relayed
    assert relayed.endswith("; on the host, run `codex-login login` to sign in again")


def test_nothing_stored_on_the_host_is_sign_in_through_a_broker_too(tmp_path: Path) -> None:
    home, sandbox = host(tmp_path), tmp_path / "sandbox"
    sandbox.mkdir()
    with running_broker(home, env=clean_env(home)) as broker:
        brokered = run_in_process("token", "--broker", str(broker.socket), home=sandbox)
    assert (brokered.returncode, brokered.stdout) == (SIGN_IN, "")
    assert brokered.stderr.count("codex-login login") == 1


def test_an_untrusted_auth_json_is_a_set_up_to_fix_read_directly_or_through_a_broker(
    tmp_path: Path,
) -> None:
    """No retry cures a login file another user owns: the broker does not answer "try
    again" (503 with Retry-After) but "fix the set-up", and `token` exits the same both ways
    (issue 21, item 3)."""
    with shared_base() as base:
        home = owned_dir(base / "host", 0, 0)
        planted = owned_file(home / "auth.json", API_KEY_DOCUMENT, OTHER_UID, OTHER_GID)
        sandbox = tmp_path / "sandbox"
        sandbox.mkdir()
        direct = run_in_process("token", home=home)
        with running_broker(home) as broker:
            assert broker.socket is not None
            answer = unix_request(broker.socket)
            brokered = run_in_process("token", "--broker", str(broker.socket), home=sandbox)
    assert (answer.status, answer.json()["error"]) == (500, "misconfigured"), answer.raw()
    assert answer.header("Retry-After") is None
    assert f"refusing to use {planted}" in answer.json()["message"]
    assert (direct.returncode, direct.stdout) == (SET_UP, ""), direct.stderr
    assert (brokered.returncode, brokered.stdout) == (SET_UP, ""), brokered.stderr
    [said] = direct.stderr.splitlines()
    assert said.startswith(f"Error: refusing to use {planted}: it belongs to uid {OTHER_UID}")
    [relayed] = brokered.stderr.splitlines()
    assert f"refusing to use {planted}" in relayed
