"""Opening the authorization URL: a graphical browser when there is one, never a console one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.cli import clean_env

URL = "https://auth.example/oauth/authorize?state=abc&x=1"
OPEN = (
    "import sys; from codex_login.adapters.browser import SystemBrowser; "
    "from codex_login.entrypoints.settings import Settings; "
    "print(SystemBrowser(Settings.from_environ().graphical_display).open(sys.argv[1]))"
)


def open_with(tmp_path: Path, **env: str) -> str:
    base = {k: v for k, v in clean_env(tmp_path).items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-c", OPEN, URL],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_a_graphical_browser_gets_the_url(tmp_path: Path) -> None:
    received = tmp_path / "received"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {received}\n')
    browser.chmod(0o755)
    assert open_with(tmp_path, DISPLAY=":99", BROWSER=str(browser)) == "True"
    assert received.read_text() == URL


def test_a_console_browser_is_never_started(tmp_path: Path) -> None:
    received = tmp_path / "received"
    lynx = tmp_path / "lynx"  # would take over the terminal that shows the URL
    lynx.write_text(f'#!/bin/sh\nprintf %s "$1" > {received}\n')
    lynx.chmod(0o755)
    assert open_with(tmp_path, DISPLAY=":99", BROWSER=str(lynx)) == "False"
    assert not received.exists()


def test_without_a_display_nothing_is_opened(tmp_path: Path) -> None:
    received = tmp_path / "received"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {received}\n')
    browser.chmod(0o755)
    assert open_with(tmp_path, BROWSER=str(browser)) == "False"
    assert not received.exists()
