"""POSIX-only modules for the tests that need them, imported when such a test runs.

Test modules import none of them at the top, so a platform without them (Windows)
still collects every module; the tests that need one skip there, saying which.
"""

from __future__ import annotations

from types import ModuleType

import pytest

POSIX_ONLY = ("fcntl", "grp", "pty", "pwd", "resource", "termios", "tty")


def posix_module(name: str) -> ModuleType:
    """The module ``name``; the calling test skips when this platform has none."""
    module: ModuleType = pytest.importorskip(name, reason=f"{name} is POSIX-only")
    return module
