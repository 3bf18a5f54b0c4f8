"""An unwritable CODEX_HOME is found before a login starts: one line naming the path,
before a key is read, a port bound or the issuer asked anything (a read-only tmpfs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import run_cli
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env

LOGINS = [
    pytest.param(("login", "--with-api-key"), id="api-key"),
    pytest.param(("login", "--device-auth"), id="device"),
    pytest.param(("login", "--no-browser"), id="browser-paste"),
    pytest.param(("login",), id="browser"),
]


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """An empty read-only tmpfs (read-only for root too), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a read-only tmpfs needs root and mount(8)")
    place = tmp_path / "ro"
    place.mkdir()
    options = "size=64k,mode=0700,ro"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(place)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield place
    finally:
        subprocess.run(["umount", str(place)], check=True)


@pytest.mark.parametrize("command", LOGINS)
@pytest.mark.parametrize("missing", [False, True], ids=["existing", "missing"])
def test_an_unwritable_codex_home_stops_a_login_before_it_starts(
    read_only: Path, issuer: FakeIssuer, command: tuple[str, ...], missing: bool
) -> None:
    home = read_only / "codex" if missing else read_only
    env = issuer_env(home, issuer)
    env["BROWSER"] = "true"  # were a browser opened, nothing would happen
    result = run_cli(*command, env=env, stdin="sk-test-1234567890\n", timeout=30)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    unwritable = f"cannot create {home}" if missing else f"cannot write in {home}"
    assert unwritable in line, line
    assert "CODEX_HOME" in line
    assert issuer.requests == []
    assert result.stdout == ""
