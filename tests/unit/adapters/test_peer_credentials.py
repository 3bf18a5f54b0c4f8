"""The peer's credentials as Linux (ucred) and macOS (xucred) give them."""

from __future__ import annotations

import os
import socket
import struct
import sys

import pytest

from codex_login.adapters import peer_credentials as creds
from codex_login.adapters.peer_credentials import PeerCredentials, parse_ucred, parse_xucred


def xucred(version: int, uid: int, groups: list[int]) -> bytes:
    """A ``struct xucred`` as macOS's LOCAL_PEERCRED answers it (little-endian)."""
    padded = [*groups, *[0] * (16 - len(groups))]
    return struct.pack("<IIh2x16I", version, uid, len(groups), *padded)


def test_an_xucred_is_76_bytes_as_in_sys_ucred_h() -> None:
    assert creds.XUCRED.size == 76


def test_xucred_gives_the_uid_and_no_pid() -> None:
    parsed = parse_xucred(xucred(0, 501, [20, 12, 61]))
    assert parsed == PeerCredentials(uid=501, pid=None)
    assert parsed.described == "uid=501 pid=?"


def test_an_xucred_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 1"):
        parse_xucred(xucred(1, 501, []))


def test_a_short_xucred_is_refused() -> None:
    with pytest.raises(ValueError, match="76 bytes"):
        parse_xucred(xucred(0, 501, [])[:40])


def test_ucred_gives_the_pid_and_uid() -> None:
    parsed = parse_ucred(struct.pack("=iII", 4321, 1000, 1000))
    assert parsed.described == "uid=1000 pid=4321"


def test_macos_asks_local_peercred_at_sol_local() -> None:
    asked: list[tuple[int, int, int]] = []

    class FakeSocket:
        def getsockopt(self, level: int, option: int, size: int) -> bytes:
            asked.append((level, option, size))
            return xucred(0, 502, [20])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "platform", "darwin")
        found = creds.peer_credentials(FakeSocket())  # type: ignore[arg-type]
    assert (asked, found) == ([(0, 1, 76)], PeerCredentials(uid=502))


def test_windows_has_no_peer_credentials() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "platform", "win32")
        with pytest.raises(OSError, match="win32"):
            creds.peer_credentials(object())  # type: ignore[arg-type]
        assert creds.current_uid() is None


@pytest.mark.skipif(sys.platform != "linux", reason="SO_PEERCRED is Linux's")
def test_linux_reads_the_real_peer() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        found = creds.peer_credentials(left)
    assert found == PeerCredentials(uid=os.getuid(), pid=os.getpid())
