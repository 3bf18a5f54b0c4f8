"""The test suite collects on a platform without POSIX-only modules (Windows).

A child process hides them (a meta-path finder that raises ImportError for each)
and collects every test module: none may fail to import for want of one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.posix import POSIX_ONLY

ROOT = Path(__file__).resolve().parents[3]
COLLECT_WITHOUT_POSIX = f"""
import importlib.abc, sys

HIDDEN = {set(POSIX_ONLY)!r}

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ImportError(f"{{name}} is hidden: POSIX-only")
        return None

sys.meta_path.insert(0, Hide())
for name in HIDDEN:
    sys.modules.pop(name, None)
import pytest
# Without fcntl (and without Windows's msvcrt) filelock warns that it has only soft locks.
# --assert=plain: the modules import as they would with assertion rewriting, which
# (their ASTs rewritten, nothing cached) was most of this child's cost.
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "--assert=plain",
                      "-W", "ignore:only soft file lock", "tests"]))
"""


def test_every_test_module_imports_without_posix_only_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COLLECT_WITHOUT_POSIX],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "is hidden: POSIX-only" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
