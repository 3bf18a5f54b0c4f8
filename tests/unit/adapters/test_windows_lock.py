"""The lock file's primitive per platform, driven through a fake filelock class."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import filelock
import pytest

from codex_login.adapters.lock_file import LockFile
from codex_login.adapters.owned_paths import Owners


class Recording:
    """Stands for a filelock class: records how the lock file builds it."""

    made: list[tuple[Path, dict[str, Any]]]

    def __init__(self, path: Path, **options: Any) -> None:
        type(self).made.append((path, options))
        self.is_locked = False


# Windows takes the Codex CLI's own LockFileEx (windows_lock), not a filelock class:
# tests/unit/adapters/test_windows_kernel_lock.py.
@pytest.mark.parametrize(("platform", "native"), [("darwin", "UnixFileLock")])
def test_the_lock_is_the_platforms_native_lock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str, native: str
) -> None:
    fake: type[Recording] = type(native, (Recording,), {"made": []})
    monkeypatch.setattr(filelock, native, fake)
    monkeypatch.setattr(sys, "platform", platform)
    lock = LockFile(tmp_path, "auth.lock", Owners(), mode=0o600)
    built = lock._filelock()
    assert isinstance(built, fake)
    ((path, options),) = fake.made
    assert path == tmp_path / "auth.lock"
    assert options["mode"] == 0o600
    assert options["thread_local"] is False
    assert options["fallback_to_soft"] is False  # a real OS lock, never a lock by existence


def test_filelock_windows_lock_is_lockfileex_not_msvcrt() -> None:
    """filelock's WindowsFileLock takes LockFileEx on byte 0 (this filelock's source);
    the Codex CLI's Rust File::try_lock takes it on the whole file: the ranges overlap,
    so a codex-login of an earlier release, which took filelock's, excludes it too."""
    import inspect  # noqa: PLC0415

    from filelock._native import _windows  # noqa: PLC0415

    source = inspect.getsource(_windows)
    assert "LockFileEx" in source
    assert "msvcrt.locking" not in source
