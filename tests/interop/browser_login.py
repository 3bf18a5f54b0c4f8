"""Running `codex-login login` with the scripted browser against the oidc-provider issuer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from interop.oidc_issuer import OidcIssuer
from interop.scripted_browser import complete_authorization
from support.cli import clean_env, start_browser_login


def login_with_browser(home: Path, issuer: OidcIssuer) -> subprocess.CompletedProcess[str]:
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer)
    child, url = start_browser_login([], env)
    complete_authorization(url)
    stdout, stderr = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
