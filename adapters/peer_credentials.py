"""Who is on the other end of a Unix socket, as each OS tells it.

Linux answers ``SO_PEERCRED`` with a ``struct ucred`` (pid, uid, gid). macOS has no
``SO_PEERCRED``: ``getsockopt(SOL_LOCAL, LOCAL_PEERCRED)`` answers a ``struct xucred``
(``sys/ucred.h``)::

    struct xucred {
        u_int   cr_version;         /* XUCRED_VERSION, 0 */
        uid_t   cr_uid;             /* effective user id */
        short   cr_ngroups;         /* number of groups */
        gid_t   cr_groups[16];      /* groups */
    };

and no pid, so the peer's pid is unknown there. Windows has no peer credentials for a
socket: the broker offers it no Unix socket (TCP with a secret instead).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Callable

import attrs

from codex_login.domain.fields_repr import FieldsRepr

UCRED = struct.Struct("=iII")  # pid_t pid; uid_t uid; gid_t gid
XUCRED = struct.Struct("=IIh2x16I")  # version, uid, ngroups, (padding), groups[16]
XUCRED_VERSION = 0
SOL_LOCAL = 0  # macOS <sys/un.h>
LOCAL_PEERCRED = 1


@attrs.frozen(repr=False)
class PeerCredentials(FieldsRepr):
    """The peer's effective uid, and its pid where the OS says (not on macOS)."""

    uid: int
    pid: int | None = None

    @property
    def described(self) -> str:
        """For the log: ``uid=1000 pid=42``, or ``pid=?`` where the OS gives none."""
        return f"uid={self.uid} pid={'?' if self.pid is None else self.pid}"


def parse_ucred(data: bytes) -> PeerCredentials:
    """Linux's ``struct ucred``; ValueError when ``data`` is not one."""
    if len(data) != UCRED.size:
        raise ValueError(f"a ucred is {UCRED.size} bytes, got {len(data)}")
    pid, uid, _gid = UCRED.unpack(data)
    return PeerCredentials(uid=uid, pid=pid)


def parse_xucred(data: bytes) -> PeerCredentials:
    """macOS's ``struct xucred``; ValueError when ``data`` is not one of version 0."""
    if len(data) < XUCRED.size:
        raise ValueError(f"an xucred is {XUCRED.size} bytes, got {len(data)}")
    version, uid, _ngroups, *_groups = XUCRED.unpack_from(data)
    if version != XUCRED_VERSION:
        raise ValueError(f"xucred version {version}, expected {XUCRED_VERSION}")
    return PeerCredentials(uid=uid)


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The credentials of the process at the other end of the Unix socket ``sock``;
    OSError when the OS cannot tell (the peer is gone, or no such call here)."""
    if sys.platform == "linux":
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
        return _parsed(parse_ucred, data)
    elif sys.platform == "darwin":
        return _parsed(parse_xucred, sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, XUCRED.size))
    else:
        raise OSError(f"no peer credentials on a Unix socket on {sys.platform}")


def _parsed(parse: Callable[[bytes], PeerCredentials], data: bytes) -> PeerCredentials:
    try:
        return parse(data)
    except ValueError as exc:
        raise OSError(f"unexpected peer credentials: {exc}") from exc


def is_unix_socket(sock: socket.socket) -> bool:
    """Whether ``sock`` is a Unix socket (never on Windows, whose Python has none)."""
    if sys.platform == "win32":
        return False
    else:
        return sock.family == socket.AF_UNIX


def current_uid() -> int | None:
    """This process's uid; None on Windows, which has no uids (its broker has no Unix
    socket, whose peers are checked by uid)."""
    if sys.platform == "win32":
        return None
    else:
        return os.getuid()
