"""The POSIX open flags and the effective uid, with what stands for them on Windows.

Windows has no ``O_NOCTTY``, ``O_NONBLOCK``, ``O_NOFOLLOW`` or ``O_DIRECTORY`` (no
terminals to adopt, no FIFOs, no links followed by ``open``): they are 0 there. Its
``O_CLOEXEC`` is ``O_NOINHERIT``, with ``O_BINARY`` so no descriptor translates
newlines. It has no uids either: ``os.stat`` reports ``st_uid`` 0 for every file, so
the effective uid is 0 too and the owner checks compare equal; what protects a file
there is its ACL, inherited from the user's profile directory (see docs/platforms.md).
"""

from __future__ import annotations

import os
import sys

if sys.platform == "win32":
    CLOEXEC = os.O_NOINHERIT | os.O_BINARY
    NOCTTY = NONBLOCK = NOFOLLOW = DIRECTORY = 0
else:
    CLOEXEC = os.O_CLOEXEC
    NOCTTY = os.O_NOCTTY
    NONBLOCK = os.O_NONBLOCK
    NOFOLLOW = os.O_NOFOLLOW
    DIRECTORY = os.O_DIRECTORY


def effective_uid() -> int:
    """``os.geteuid()``; 0 on Windows, the ``st_uid`` it reports for every file."""
    if sys.platform == "win32":
        return 0
    else:
        return os.geteuid()
