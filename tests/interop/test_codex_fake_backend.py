"""The real Codex CLI (0.171) runs a turn against the testing kit's fake backend, with a
home made by ``signed_in()``: the backend takes what Codex sends for a ChatGPT login,
and its 401 for an expired token makes Codex refresh at the fake issuer and retry.

What the home needs besides ``signed_in()``'s ``openai_base_url``, to keep Codex on
loopback: ``chatgpt_base_url`` (its account checks) on the backend, no plugin sync,
no analytics. Codex first tries a WebSocket at ``GET /responses``; the backend's 426
sends it to ``POST /responses`` at once.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_login.testing import SettableClock, SignedIn, signed_in
from interop.peers.codex_peer import codex_env

pytestmark = pytest.mark.interop

LOOPBACK_ONLY = """
chatgpt_base_url = "{url}/backend-api"

[features]
plugins = false

[analytics]
enabled = false
"""


def keep_on_loopback(session: SignedIn) -> None:
    with (session.home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(LOOPBACK_ONLY.format(url=session.backend.url))


def run_turn(
    codex: Path, session: SignedIn, workdir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(exist_ok=True)
    return subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "say hi"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=codex_env(session.home, env),
        timeout=120,
        check=False,
    )


def stored_tokens(home: Path) -> dict[str, str]:
    tokens: dict[str, str] = json.loads((home / "auth.json").read_text())["tokens"]
    return tokens


def model_calls(session: SignedIn) -> list[tuple[str | None, str | None]]:
    """(Authorization, ChatGPT-Account-ID) of each POST /responses, in order."""
    return [
        (r.header("Authorization"), r.header("ChatGPT-Account-ID"))
        for r in session.backend.requests_to("/responses")
        if r.method == "POST"
    ]


def test_codex_finishes_a_turn_on_the_fake_backend(codex: Path, tmp_path: Path) -> None:
    with signed_in(tmp_path / "codex-home") as session:
        keep_on_loopback(session)
        session.backend.text = "Hi from loopback."
        result = run_turn(codex, session, tmp_path / "work")
        assert result.returncode == 0, result.stderr
        assert "Hi from loopback." in result.stdout
        tokens = stored_tokens(session.home)
        assert model_calls(session) == [(f"Bearer {tokens['access_token']}", tokens["account_id"])]
        assert session.backend.requests_to("/models")[0].query.get("client_version")


def test_an_expired_token_makes_codex_refresh_once_and_retry(codex: Path, tmp_path: Path) -> None:
    clock = SettableClock(datetime.now(UTC))
    with signed_in(tmp_path / "codex-home", clock=clock) as session:
        keep_on_loopback(session)
        before = stored_tokens(session.home)
        # Expired for the backend (the issuer's clock), not yet for Codex (the real one).
        clock.advance(timedelta(hours=2))
        refresh_url = f"{session.issuer.url}/oauth/token"
        result = run_turn(
            codex, session, tmp_path / "work", CODEX_REFRESH_TOKEN_URL_OVERRIDE=refresh_url
        )
        assert result.returncode == 0, result.stderr
        assert session.backend.text in result.stdout
        after = stored_tokens(session.home)
        assert after["access_token"] != before["access_token"]
        assert len(session.issuer.posts("refresh_token")) == 1
        old = (f"Bearer {before['access_token']}", before["account_id"])
        new = (f"Bearer {after['access_token']}", after["account_id"])
        # Measured with 0.171: after the first 401 Codex re-reads auth.json and retries
        # (the same token, refused again), then refreshes and retries with the new one.
        assert model_calls(session) == [old, old, new]
