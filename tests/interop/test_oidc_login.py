"""`codex-login login` against a real OpenID Connect server (npm oidc-provider).

A scripted browser submits the provider's login and consent forms; the real
Codex CLI then reads what we stored.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.peers.browser_login import login_with_browser
from interop.peers.codex_peer import clean_stderr, run_codex
from interop.peers.oidc_issuer import OidcIssuer, issuer_unavailable_reason
from support.cli import CLI, clean_env

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


def test_login_against_a_real_oidc_server(tmp_path: Path, issuer: OidcIssuer) -> None:
    home = tmp_path / "codex"
    result = login_with_browser(home, issuer)
    assert result.returncode == 0, result.stderr
    assert "Successfully logged in" in result.stderr.splitlines()
    document = json.loads((home / "auth.json").read_bytes())
    assert document["auth_mode"] == "chatgpt"
    assert document["OPENAI_API_KEY"].startswith("sk-proj-")
    assert document["tokens"]["account_id"] == "acc-123"
    assert document["tokens"]["refresh_token"]
    codes = [
        e for e in issuer.events("grant.success") if e.get("grant_type") == "authorization_code"
    ]
    assert len(codes) == 1
    status = json.loads(
        subprocess.run(
            [str(CLI), "status", "--json"],
            capture_output=True,
            text=True,
            env=clean_env(home),
            check=True,
        ).stdout
    )
    assert (status["email"], status["plan"], status["refresh_due"]) == (
        "user@example.com",
        "pro",
        False,
    )


def test_the_codex_cli_sees_our_chatgpt_login(
    tmp_path: Path, issuer: OidcIssuer, codex: Path
) -> None:
    home = tmp_path / "codex"
    assert login_with_browser(home, issuer).returncode == 0
    status = run_codex(codex, ["login", "status"], home)
    assert (status.returncode, clean_stderr(status.stderr)) == (0, "Logged in using ChatGPT")


def test_a_refused_api_key_exchange_still_logs_in(tmp_path: Path) -> None:
    with OidcIssuer(token_exchange_fails=True, claims={"chatgpt_plan_type": "plus"}) as issuer:
        home = tmp_path / "codex"
        result = login_with_browser(home, issuer)
    assert result.returncode == 0, result.stderr
    document = json.loads((home / "auth.json").read_bytes())
    assert document["OPENAI_API_KEY"] is None
    assert document["auth_mode"] == "chatgpt"
