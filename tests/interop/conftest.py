from __future__ import annotations

from pathlib import Path

import pytest

from interop.peers.codex_peer import find_codex


@pytest.fixture
def codex() -> Path:
    """The Codex CLI's native binary; the test is skipped, saying why, when it is missing."""
    binary = find_codex()
    if binary is None:
        pytest.skip("Codex CLI not installed: run .ci/install-codex.sh or set CODEX_BIN")
    return binary
