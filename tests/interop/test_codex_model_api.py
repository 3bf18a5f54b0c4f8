"""The real Codex CLI and codex-login call the model the same way for the same login
(issue 23, item 1): one loopback server records both.

One CODEX_HOME holds a ChatGPT login (auth.json) and a config.toml whose
``openai_base_url`` points at the server. ``codex exec`` runs one turn there
(``chatgpt_base_url`` too, so nothing leaves the machine); then codex-login's
``model_api()`` and its httpx auth, reading the same two files, send one model request.
Both requests must reach the same base URL with the same ``Authorization`` and
``ChatGPT-Account-ID``. An API-key login is compared the same way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_login.entrypoints.embedding import CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
from interop.peers.codex_peer import (
    LoopbackServer,
    RecordedRequest,
    chatgpt_record,
    clean_stderr,
    codex_env,
    write_auth_json,
)
from interop.peers.responses_api import MODEL, response_events, sse

pytestmark = pytest.mark.interop

ACCOUNT = "acct-model-api"
API_KEY = "sk-test-model-api-0123456789"
MODEL_CALL = "POST /v1/responses"
SIGNED = ("authorization", "chatgpt-account-id")
STREAM = "".join(sse(event).decode() for event in response_events("hi"))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer({MODEL_CALL: (200, STREAM), "GET /v1/models": (200, {"models": []})}) as s:
        yield s


@pytest.fixture
def codex_home(tmp_path: Path, server: LoopbackServer) -> Path:
    """A CODEX_HOME whose config.toml moves the model API to the server, for both tools;
    Codex's plugins and analytics off, so that it talks to nothing else."""
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        f'openai_base_url = "{server.url}/v1"\n'
        f'model = "{MODEL}"\n'
        "[features]\nplugins = false\n[analytics]\nenabled = false\n"
    )
    return home


def run_codex_exec(codex: Path, home: Path, server: LoopbackServer) -> None:
    work = home.parent / "work"
    work.mkdir()
    result = subprocess.run(
        [
            str(codex),
            "exec",
            "--skip-git-repo-check",
            "-c",
            f'chatgpt_base_url="{server.url}/backend-api"',
            "say hi",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=work,
        env=codex_env(home),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, clean_stderr(result.stderr)


def codex_login_call(home: Path) -> str:
    """One model request from codex-login's httpx auth, reading ``home``; its base URL."""
    with CodexAuth(codex_home=home, environ={}) as auth:
        base_url = auth.model_api().base_url
        with httpx.Client(
            auth=CodexHttpxAuth(auth), base_url=base_url, trust_env=False, timeout=30
        ) as client:
            answer = client.post("/responses", json={"model": MODEL, "input": "say hi"})
            assert answer.status_code == 200
    return base_url


def signed(request: RecordedRequest) -> dict[str, Any]:
    return {name: request.headers.get(name) for name in SIGNED}


def test_a_chatgpt_login_sends_the_same_headers_to_the_same_model_api(
    codex: Path, codex_home: Path, server: LoopbackServer
) -> None:
    record = chatgpt_record(account_id=ACCOUNT)
    write_auth_json(codex_home, record)
    run_codex_exec(codex, codex_home, server)
    [codex_call] = server.matching(MODEL_CALL)
    base_url = codex_login_call(codex_home)
    assert base_url == f"{server.url}/v1"
    codex_call, ours = server.matching(MODEL_CALL)
    assert signed(codex_call) == {
        "authorization": f"Bearer {record['tokens']['access_token']}",
        "chatgpt-account-id": ACCOUNT,
    }
    assert signed(ours) == signed(codex_call)


def test_an_api_key_login_sends_the_same_headers_to_the_same_model_api(
    codex: Path, codex_home: Path, server: LoopbackServer
) -> None:
    write_auth_json(codex_home, {"auth_mode": "apikey", "OPENAI_API_KEY": API_KEY})
    run_codex_exec(codex, codex_home, server)
    codex_login_call(codex_home)
    codex_call, ours = server.matching(MODEL_CALL)
    assert signed(codex_call) == {"authorization": f"Bearer {API_KEY}", "chatgpt-account-id": None}
    assert signed(ours) == signed(codex_call)
