"""`codex-login login --device-auth` against a real RFC 8628 server (npm oidc-provider)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from interop.peers.codex_peer import clean_stderr, find_codex, run_codex
from interop.peers.oidc_issuer import OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import approve_device, deny_device
from support.cli import clean_env, start_device_login

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def start(home: Path, issuer: OidcIssuer) -> tuple[subprocess.Popen[str], str, str]:
    child, page, code, _ = start_device_login(
        clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id)
    )
    return child, page, code


def test_a_device_login_approved_on_another_device(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    with OidcIssuer(device_interval=1) as issuer:
        child, page, code = start(home, issuer)
        assert page == f"{issuer.issuer}/device"
        approve_device(page, code)
        _, rest = child.communicate(timeout=60)
        successes = issuer.wait_for_count(
            lambda e: (
                e.get("event") == "grant.success"
                and str(e.get("grant_type")).endswith("device_code")
            ),
            1,
        )
    assert child.returncode == 0, rest
    assert len(successes) == 1
    document = json.loads((home / "auth.json").read_bytes())
    assert document["auth_mode"] == "chatgpt"
    assert document["OPENAI_API_KEY"].startswith("sk-proj-")
    assert document["tokens"]["account_id"] == "acc-123"
    codex = find_codex()
    if codex is not None:
        status = run_codex(codex, ["login", "status"], home)
        assert clean_stderr(status.stderr) == "Logged in using ChatGPT"


def test_a_device_login_refused_on_the_other_device(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    with OidcIssuer(device_interval=1) as issuer:
        child, page, code = start(home, issuer)
        deny_device(page, code)
        _, rest = child.communicate(timeout=60)
    assert child.returncode == 1
    assert (
        rest.strip()
        .splitlines()[-1]
        .startswith("Error: the sign-in was refused by the issuer (access_denied")
    )
    assert not (home / "auth.json").exists()
