"""The Codex CLI peer helpers on their own (no codex-login code involved)."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest

from interop.peers.codex_peer import (
    CLIENT_ID,
    AppServer,
    LoopbackServer,
    chatgpt_backend_routes,
    chatgpt_record,
    clean_stderr,
    flock_is_free,
    hold_flock,
    refresh_with_app_server,
    run_codex,
    start_api_key_login,
    unsigned_jwt,
    write_auth_json,
)
from support.waiting import wait_until

pytestmark = pytest.mark.interop
KEY = "sk-test-123456789"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    return codex_home


def test_api_key_login_writes_codex_bytes(codex: Path, home: Path) -> None:
    result = run_codex(codex, ["login", "--with-api-key"], home, stdin=f"  {KEY}\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "API key saved." in clean_stderr(result.stderr)
    auth = home / "auth.json"
    expected = b'{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456789"\n}'
    assert auth.read_bytes() == expected
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "auth.json.lock").stat().st_mode) == 0o600
    assert (home / "auth.lock").exists()
    assert not list(home.glob(".auth-*"))


def test_status_reports_each_mode(codex: Path, home: Path) -> None:
    missing = run_codex(codex, ["login", "status"], home)
    assert (missing.returncode, clean_stderr(missing.stderr)) == (1, "Not logged in")

    write_auth_json(home, {"auth_mode": "apikey", "OPENAI_API_KEY": KEY})
    api = run_codex(codex, ["login", "status"], home)
    assert api.returncode == 0
    assert api.stdout == ""
    assert clean_stderr(api.stderr).splitlines()[0] == "API key configured - sk-test-***56789"

    write_auth_json(home, chatgpt_record())
    chat = run_codex(codex, ["login", "status"], home)
    assert (chat.returncode, clean_stderr(chat.stderr)) == (0, "Logged in using ChatGPT")

    write_auth_json(home, b"{")
    bad = run_codex(codex, ["login", "status"], home)
    assert bad.returncode == 1
    assert clean_stderr(bad.stderr).startswith("Error checking login status: ")


def test_login_holds_auth_lock_while_commit_lock_is_ours(codex: Path, home: Path) -> None:
    with hold_flock(home / "auth.json.lock"):
        login = start_api_key_login(codex, home, KEY)
        # Codex takes auth.lock, then retries auth.json.lock every ~10 ms for ~5 s.
        wait_until(lambda: not flock_is_free(home / "auth.lock"), 20, "codex to hold auth.lock")
        assert login.poll() is None
        assert not (home / "auth.json").exists()
    _, err = login.communicate(timeout=30)
    assert login.returncode == 0, err
    assert json.loads((home / "auth.json").read_bytes())["OPENAI_API_KEY"] == KEY
    assert flock_is_free(home / "auth.lock")


def test_app_server_refreshes_without_a_model_call(codex: Path, home: Path) -> None:
    write_auth_json(home, chatgpt_record(refresh_token="rt-1"))
    new_access = unsigned_jwt({"exp": int(time.time()) + 3600})
    with LoopbackServer(chatgpt_backend_routes()) as server:
        server.routes["POST /oauth/token"] = (
            200,
            {"access_token": new_access, "refresh_token": "rt-2"},
        )
        result = refresh_with_app_server(
            codex, home, refresh_url=f"{server.url}/oauth/token", base_url=server.url, timeout=30
        )
        posts = server.matching("POST /oauth/token")
    assert result["account"]["type"] == "chatgpt"
    assert len(posts) == 1
    assert posts[0].json() == {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_reason": "forced",
        "refresh_token": "rt-1",
    }
    assert "authorization" not in posts[0].headers
    stored = json.loads((home / "auth.json").read_bytes())
    assert stored["tokens"]["access_token"] == new_access
    assert stored["tokens"]["refresh_token"] == "rt-2"
    assert len(stored["last_refresh"]) == len("2026-01-01T00:00:00.123456789Z")


def test_app_server_posts_before_taking_auth_lock(codex: Path, home: Path) -> None:
    write_auth_json(home, chatgpt_record(refresh_token="rt-1"))
    results: list[object] = []
    with (
        LoopbackServer(chatgpt_backend_routes()) as server,
        AppServer(codex, home, base_url=server.url, refresh_url=f"{server.url}/oauth/token") as app,
    ):
        server.routes["POST /oauth/token"] = (200, {"refresh_token": "rt-2"})
        app.initialize()
        reader = threading.Thread(
            target=lambda: results.append(app.request("account/read", {"refreshToken": True}))
        )
        with hold_flock(home / "auth.lock"):
            reader.start()
            # Posted while we hold auth.lock: Codex locks only to commit, so it waits here.
            server.wait_for_request("POST /oauth/token", timeout=20)
            assert reader.is_alive()
        reader.join(30)
    assert len(results) == 1
    assert json.loads((home / "auth.json").read_bytes())["tokens"]["refresh_token"] == "rt-2"
