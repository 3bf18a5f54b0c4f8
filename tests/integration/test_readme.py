"""Every Python snippet in the README runs as pasted, against local stand-ins for the world.

The environment each snippet sees: a CODEX_HOME holding a ChatGPT login at a fake
issuer (also the configured issuer, for new logins), an OpenAI-style API on
loopback (OPENAI_BASE_URL), and a graphical "browser" that follows the URL it is
given, as a user who approves would. Snippets that define tests run under pytest.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import clean_env
from support.fake_issuer import FakeIssuer, running_issuer
from support.loopback_api import LoopbackApi, serving

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
FOLLOW = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30).read()"
BROWSER = """#!/bin/sh
"{python}" -c '{follow}' "$1" >/dev/null 2>&1 &
"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()
    fake.approve_devices = True
    with running_issuer(fake) as running:
        yield running


@pytest.fixture(scope="module")
def api() -> Iterator[LoopbackApi]:
    with serving(LoopbackApi()) as running:
        yield running


def environment(home: Path, issuer: FakeIssuer, api: LoopbackApi) -> dict[str, str]:
    home.mkdir(mode=0o700)
    FileCredentialStore(home).save(issuer.login_record())
    browser = home.parent / "browser"
    browser.write_text(BROWSER.format(python=sys.executable, follow=FOLLOW))
    browser.chmod(0o755)
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.url,
        # The fake stands in for OpenAI's issuer; any other issuer needs its client id named.
        CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID,
        OPENAI_BASE_URL=f"{api.url}/v1",
        DISPLAY=":99",
        BROWSER=str(browser),
    )


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 8


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet-{n}" for n in range(len(SNIPPETS))])
def test_a_readme_snippet_runs_as_pasted(
    snippet: str, tmp_path: Path, issuer: FakeIssuer, api: LoopbackApi
) -> None:
    env = environment(tmp_path / "codex", issuer, api)
    if "def test_" in snippet:
        (tmp_path / "test_snippet.py").write_text(snippet)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_snippet.py",
        ]
    else:
        command = [sys.executable, "-c", snippet]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
