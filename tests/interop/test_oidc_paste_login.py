"""`codex-login login --no-browser` against oidc-provider, completed by a pasted redirect.

The callback port is never reached by the scripted browser (it stands for a browser
on another machine); the address it ended on is pasted on the login's stdin.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from interop.peers.browser_login import login_by_pasting
from interop.peers.oidc_issuer import OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import authorization_redirect
from support.cli import clean_env, start_browser_login

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


def test_a_pasted_redirect_completes_a_login_at_a_real_issuer(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    result = login_by_pasting(home, issuer)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Successfully logged in" in result.stderr.splitlines()
    document = json.loads((home / "auth.json").read_bytes())
    assert document["auth_mode"] == "chatgpt"
    assert document["tokens"]["account_id"] == "acc-123"
    assert document["tokens"]["refresh_token"]
    assert document["OPENAI_API_KEY"].startswith("sk-proj-")
    codes = [
        e for e in issuer.events("grant.success") if e.get("grant_type") == "authorization_code"
    ]
    assert len(codes) == 1


def test_the_real_issuers_redirect_names_it_and_the_paste_checks_that(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    """oidc-provider sends `iss` (RFC 9207); the paste is held to it like a callback."""
    home = tmp_path / "codex"
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id)
    child, url = start_browser_login([], env, stdin=subprocess.PIPE)
    ended_on = authorization_redirect(url)
    assert parse_qs(urlsplit(ended_on).query)["iss"] == [issuer.issuer]
    forged = ended_on.replace("iss=", "iss=https%3A%2F%2Fevil.example.com&x=")
    _, stderr = child.communicate(f"{forged}\n", timeout=60)
    assert child.returncode == 1
    assert "not from" in stderr
    assert not (home / "auth.json").exists()
