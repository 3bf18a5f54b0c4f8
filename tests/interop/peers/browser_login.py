"""Running `codex-login login` with the scripted browser against the oidc-provider issuer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from interop.peers.oidc_issuer import OidcIssuer
from interop.peers.scripted_browser import authorization_redirect, complete_authorization
from support.cli import clean_env, start_browser_login


def login_with_browser(home: Path, issuer: OidcIssuer) -> subprocess.CompletedProcess[str]:
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id)
    child, url = start_browser_login([], env)
    complete_authorization(url)
    stdout, stderr = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def login_by_pasting(home: Path, issuer: OidcIssuer) -> subprocess.CompletedProcess[str]:
    """The browser is on another machine: it signs in at the issuer, but its request
    to the callback would go to its own localhost, so it is never made here. The user
    pastes the address it ended on into the login's stdin instead."""
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id)
    child, url = start_browser_login([], env, stdin=subprocess.PIPE)
    ended_on = authorization_redirect(url)
    stdout, stderr = child.communicate(f"{ended_on}\n", timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
