"""What the quick run (``pytest -n 2 -m "not slow and not interop"``) does to keep its
own costs down without weakening a test (issue 22, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from support import age
from support.cli import clean_env

SHOW_CACHED = "import codex_login.entrypoints.cli as cli; print(cli.__file__, cli.__cached__)"


def test_children_find_the_installed_modules_compiled_outside_the_sources(
    installed_bytecode: Path | None,
) -> None:
    if installed_bytecode is None:
        pytest.skip("a regular install: pip compiled its modules")
    child = subprocess.run(
        [sys.executable, "-c", SHOW_CACHED],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    source, cached = map(Path, child.stdout.split())
    assert source.is_relative_to(installed_bytecode)
    assert source.is_symlink()  # to the file in the checkout
    # Compiled in build/ (or under the developer's PYTHONPYCACHEPREFIX), never beside
    # the file in the checkout, and current.
    assert not cached.is_relative_to(source.resolve().parent)
    assert cached.stat().st_mtime >= source.stat().st_mtime


def test_test_modules_are_compiled_once_under_build_never_beside_them() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set, pytest's rewritten test modules are kept
    under build/pycache (tests/conftest.py), so the next run does not rewrite them."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        pytest.skip("PYTHONDONTWRITEBYTECODE is not set: Python's own __pycache__ is used")
    this = Path(__file__).resolve()
    root = this.parents[3]
    assert sys.pycache_prefix == str(root / "build" / "pycache")
    kept = Path(sys.pycache_prefix, *this.parent.parts[1:])
    assert list(kept.glob(f"{this.stem}.*.pyc")) != []
    assert not (this.parent / "__pycache__").exists()


@pytest.mark.parametrize("size", [0, 100, age.CHUNK, age.CHUNK + 1, 3 * age.CHUNK])
def test_an_age_file_at_a_cheap_work_factor_is_what_pyrage_reads(size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    data = age.encrypt(plaintext, "passphrase")
    assert data.split(b"\n")[1].endswith(b" 10")  # -> scrypt <salt> 10
    assert pyrage.passphrase.decrypt(data, "passphrase") == plaintext
    with pytest.raises(pyrage.DecryptError):
        pyrage.passphrase.decrypt(data, "another")
