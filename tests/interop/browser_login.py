"""Running `codex-login login` with the scripted browser against the oidc-provider issuer."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from interop.oidc_issuer import OidcIssuer
from interop.scripted_browser import complete_authorization
from support.cli import CLI, clean_env

URL_LINE = re.compile(r"^(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)$", re.MULTILINE)


def login_with_browser(home: Path, issuer: OidcIssuer) -> subprocess.CompletedProcess[str]:
    child = subprocess.Popen(
        [str(CLI), "login", "--no-browser", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer),
        text=True,
    )
    assert child.stderr is not None
    seen = ""
    for line in child.stderr:
        seen += line
        match = URL_LINE.search(seen)
        if match:
            complete_authorization(match.group(1))
            break
    stdout, rest = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, seen + rest)
