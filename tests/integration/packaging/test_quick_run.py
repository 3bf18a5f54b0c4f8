"""What the quick run (``pytest -n 2 -m "not slow and not interop"``) does to keep its
own costs down without weakening a test (issue 22, item 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from support import age
from support.cli import clean_env

SHOW_CACHE = (
    "import sys, codex_login.entrypoints.cli; "
    "print(sys.pycache_prefix, sys.flags.dont_write_bytecode)"
)


def test_child_pythons_share_one_bytecode_cache_outside_the_tree(child_bytecode: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", SHOW_CACHE],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.split() == [str(child_bytecode), "0"]
    assert list(child_bytecode.rglob("codex_login/entrypoints/cli/__init__.*.pyc"))


@pytest.mark.parametrize("size", [0, 100, age.CHUNK, age.CHUNK + 1, 3 * age.CHUNK])
def test_an_age_file_at_a_cheap_work_factor_is_what_pyrage_reads(size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    data = age.encrypt(plaintext, "passphrase")
    assert data.split(b"\n")[1].endswith(b" 10")  # -> scrypt <salt> 10
    assert pyrage.passphrase.decrypt(data, "passphrase") == plaintext
    with pytest.raises(pyrage.DecryptError):
        pyrage.passphrase.decrypt(data, "another")
