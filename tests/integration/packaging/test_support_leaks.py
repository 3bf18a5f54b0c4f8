"""The leak-hunting plugin names the test that left a socket for the collector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
SUITE = """
import socket


class Cycle:
    def __init__(self) -> None:
        self.me = self  # only the collector frees it
        self.sock = socket.socket()


def test_leaves_a_socket() -> None:
    Cycle()


def test_closes_its_socket() -> None:
    with socket.socket():
        pass
"""


def test_the_test_that_leaked_fails_naming_where_the_socket_was_made(tmp_path: Path) -> None:
    (tmp_path / "test_sockets.py").write_text(SUITE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "support.leaks", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(TESTS),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the plugin under test
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 passed, 1 error" in out  # the leaking test passed; its teardown failed
    assert "ERROR test_sockets.py::test_leaves_a_socket" in out
    assert "test_sockets.py::test_leaves_a_socket left unclosed:" in out
    assert "unclosed <socket.socket" in out
    assert "self.sock = socket.socket()" in out  # where it was made
    assert "test_closes_its_socket left" not in out
