"""Keeping this process's memory, which holds refresh tokens, from other processes.

By default any process of the same user can read a process's memory: attach a debugger
(ptrace), read ``/proc/<pid>/mem`` or ``/proc/<pid>/environ``, or wait for a core dump.
``prctl(PR_SET_DUMPABLE, 0)`` turns all of that off on Linux: no core file is written,
and the ptrace access checks behind attaching and behind those ``/proc`` files then ask
for ``CAP_SYS_PTRACE``, which an ordinary process of the same user does not have (the
files also become root's). Root and the process itself are unaffected, and a program we
start (a browser) gets the default back with ``execve``.

The flag covers the whole process, so it is set once, at start-up, before any
credential is read. Elsewhere, or when it fails, nothing changes and nothing is said:
it hardens, it is not what makes a login work.

``CODEX_LOGIN_DUMPABLE=1`` leaves the process as it was, for a person debugging it
(py-spy, gdb) as its own user. It opens nothing to an attacker who could set it: whoever
controls our environment can already run code inside us (``PYTHONPATH``, ``LD_PRELOAD``).
"""

from __future__ import annotations

import sys

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
OPT_OUT = "CODEX_LOGIN_DUMPABLE"  # "1": stay dumpable


def keep_memory_private(dumpable: str | None) -> bool:
    """Make this process non-dumpable unless ``dumpable`` (``$CODEX_LOGIN_DUMPABLE``) is
    "1"; True when the kernel took it, else False."""
    if dumpable == "1":
        return False
    if sys.platform == "linux":
        try:
            return _prctl(PR_SET_DUMPABLE, 0) == 0
        except (ImportError, OSError, AttributeError):  # no ctypes, no libc, no prctl
            return False
    else:  # prctl is Linux's
        return False


def _prctl(option: int, arg: int) -> int:
    """libc's ``prctl(option, arg, 0, 0, 0)``.

    Through ``_ctypes``, the C half of ctypes, imported on call: ``import ctypes``
    defines some forty types at import and costs every command about 1.5 ms, for the
    two this call needs, defined here as ctypes defines them.
    """
    import _ctypes  # noqa: PLC0415

    # The stubs make _SimpleCData generic; at run time it cannot be subscripted.
    class CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "i"

    class CULong(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "L"

    class Prctl(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = CInt

    prctl = Prctl(_libc_symbol("prctl"))
    # prctl is variadic and the kernel reads unsigned longs: pass them at full width,
    # so no stale upper half of a register makes the call fail.
    value, zero = CULong(arg), CULong(0)
    return int(prctl(option, value, zero, zero, zero))


def _libc_symbol(name: str) -> int:
    """The address of ``name`` in the program's own libc (``dlsym(dlopen(NULL))``)."""
    import _ctypes  # noqa: PLC0415

    if sys.platform == "win32":  # no dlopen; never called there (prctl is Linux's)
        raise OSError("no dlopen on Windows")
    else:
        program = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: dlopen(NULL), unstubbed
        return _ctypes.dlsym(program, name)
