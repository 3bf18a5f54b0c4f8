"""In a sandbox with only CODEX_LOGIN_BROKER set, `status` and `accounts` speak of the
broker's login, as `token` does: the broker-or-store choice is made once, in bootstrap.

A real `codex-login serve` on a logged-in CODEX_HOME; the sandbox's own CODEX_HOME is
empty and elsewhere.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from support.broker import running_broker
from support.cli import clean_env, run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, write_login

pytestmark = pytest.mark.slow


@pytest.fixture
def host(tmp_path: Path, codex_fake_issuer: FakeIssuer) -> Path:
    home = tmp_path / "host"
    home.mkdir(mode=0o700)
    write_login(
        home,
        codex_fake_issuer.new_refresh_token(),
        expires_in=timedelta(hours=1),
        issuer=codex_fake_issuer.url,
    )
    return home


def sandbox_env(tmp_path: Path, socket: Path) -> dict[str, str]:
    empty = tmp_path / "sandbox"
    empty.mkdir(mode=0o700)
    return clean_env(empty, CODEX_LOGIN_BROKER=str(socket))


def test_status_reports_the_brokers_login(
    tmp_path: Path, host: Path, codex_fake_issuer: FakeIssuer
) -> None:
    with running_broker(host, env=issuer_env(host, codex_fake_issuer)) as broker:
        assert broker.socket is not None
        env = sandbox_env(tmp_path, broker.socket)
        assert run_in_process("token", env=env).returncode == 0
        result = run_in_process("status", env=env)
        as_json = run_in_process("status", "--json", env=env)
        assert broker.stop() == 0
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "Logged in using ChatGPT"
    assert lines[1] == f"  via the broker at {broker.socket}"
    assert "  account id: acc-123" in lines
    assert any(line.startswith("  access token: expires in ") for line in lines), lines
    document = json.loads(as_json.stdout)
    assert document["logged_in"] is True
    assert document["mode"] == "chatgpt"
    assert document["broker"] == str(broker.socket)
    assert document["account_id"] == "acc-123"
    assert document["access_token_expires_at"]
    assert document["kind"] == "ChatGPT"


def test_accounts_says_they_are_managed_on_the_brokers_host(
    tmp_path: Path, host: Path, codex_fake_issuer: FakeIssuer
) -> None:
    with running_broker(host, env=issuer_env(host, codex_fake_issuer)) as broker:
        assert broker.socket is not None
        result = run_in_process("accounts", env=sandbox_env(tmp_path, broker.socket))
        assert broker.stop() == 0
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Accounts are managed on the broker's host ({broker.socket}); "
        "run `codex-login accounts` there\n"
    )


def test_status_without_a_running_broker_is_one_line(tmp_path: Path) -> None:
    result = run_in_process("status", env=sandbox_env(tmp_path, tmp_path / "nobody.sock"))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ")


def test_status_names_the_brokers_api_key_in_codex_s_words(tmp_path: Path) -> None:
    """The same first line as on the host (`codex login status` 0.171), the key masked."""
    host = tmp_path / "host"
    login = run_in_process("login", "--with-api-key", home=host, stdin="sk-test-123456789")
    assert login.returncode == 0, login.stderr
    with running_broker(host, env=clean_env(host)) as broker:
        assert broker.socket is not None
        env = sandbox_env(tmp_path, broker.socket)
        result = run_in_process("status", env=env)
        as_json = run_in_process("status", "--json", env=env)
        assert broker.stop() == 0
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "API key configured - sk-test-***56789",
        f"  via the broker at {broker.socket}",
    ]
    assert "sk-test-123456789" not in result.stderr + as_json.stdout
    assert json.loads(as_json.stdout)["kind"] == "API key"
