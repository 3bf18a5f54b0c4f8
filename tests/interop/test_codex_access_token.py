"""Access tokens (Business and Enterprise): the real Codex CLI and codex-login, one file.

Both tools check the token at whoami (``CODEX_AUTHAPI_BASE_URL`` pointed at the
testing kit's fake issuer, on loopback) and store the same bytes; each reads the
other's login and serves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.peers.codex_peer import clean_stderr, run_codex
from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer, running_issuer

pytestmark = pytest.mark.interop

EMAIL, WORKSPACE = "ann@example.com", "ws-enterprise-1"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer()) as running:
        yield running


def codex_login(codex: Path, home: Path, issuer: FakeIssuer, token: str) -> None:
    home.mkdir(mode=0o700)
    env = {"CODEX_AUTHAPI_BASE_URL": issuer.authapi_base_url}
    done = run_codex(codex, ["login", "--with-access-token"], home, stdin=token, env=env)
    assert done.returncode == 0, clean_stderr(done.stderr)


def ours(home: Path, issuer: FakeIssuer, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = clean_env(home, CODEX_AUTHAPI_BASE_URL=issuer.authapi_base_url)
    done = run_cli(*args, stdin=stdin, env=env)
    return done.returncode, done.stdout, done.stderr


def test_codex_login_reads_and_serves_the_access_token_codex_stored(
    codex: Path, tmp_path: Path, issuer: FakeIssuer
) -> None:
    token = issuer.add_access_token(email=EMAIL, account_id=WORKSPACE, plan="enterprise")
    home = tmp_path / "codex"
    codex_login(codex, home, issuer, token)
    written = (home / "auth.json").read_bytes()
    assert (
        written
        == json.dumps({"OPENAI_API_KEY": None, "personal_access_token": token}, indent=2).encode()
    )

    code, _, said = ours(home, issuer, "status")
    assert code == 0, said
    lines = said.splitlines()
    assert lines[0] == "Logged in using personal access token"  # Codex's own line
    assert f"  email: {EMAIL}" in lines
    assert "  plan: Enterprise" in lines
    assert f"  account id: {WORKSPACE}" in lines

    assert ours(home, issuer, "token")[:2] == (0, f"{token}\n")
    code, printed, said = ours(home, issuer, "token", "--json")
    assert code == 0, said
    document = json.loads(printed)
    assert document["headers"] == {
        "Authorization": f"Bearer {token}",
        "ChatGPT-Account-ID": WORKSPACE,
    }
    assert document["base_url"] == "https://chatgpt.com/backend-api/codex"
    assert (home / "auth.json").read_bytes() == written  # read, never rewritten


def test_login_with_access_token_writes_the_bytes_codex_writes(
    codex: Path, tmp_path: Path, issuer: FakeIssuer
) -> None:
    token = issuer.add_access_token(email=EMAIL, account_id=WORKSPACE)
    theirs, mine = tmp_path / "codex", tmp_path / "ours"
    codex_login(codex, theirs, issuer, token)
    mine.mkdir(mode=0o700)
    code, _, said = ours(mine, issuer, "login", "--with-access-token", stdin=f"{token}\n")
    assert code == 0, said
    assert said.splitlines()[0] == "Successfully logged in"
    assert (mine / "auth.json").read_bytes() == (theirs / "auth.json").read_bytes()
    assert (mine / "auth.json").stat().st_mode & 0o777 == 0o600
    # And the Codex CLI takes codex-login's login as its own.
    status = run_codex(
        codex, ["login", "status"], mine, env={"CODEX_AUTHAPI_BASE_URL": issuer.authapi_base_url}
    )
    assert status.returncode == 0, clean_stderr(status.stderr)
    assert "Logged in using personal access token" in status.stdout + status.stderr
