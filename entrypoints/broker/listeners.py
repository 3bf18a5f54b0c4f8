"""The broker's listening sockets: a Unix socket, loopback TCP, or systemd's."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

from codex_login.domain.errors import ConfigurationError

NO_UNIX_SOCKET = (
    "this Python has no Unix sockets (Windows): serve on TCP with a secret, "
    "--tcp PORT --secret-file FILE"
)


def unix_listener(path: Path) -> socket.socket:
    """A listening socket at ``path``, mode 0600 (a missing directory is made 0700).

    A socket file left by a dead broker is replaced; a live broker there, or
    anything that is not a socket, is an error and is left alone.
    """
    if sys.platform == "win32":  # CPython there has no AF_UNIX
        raise ConfigurationError(NO_UNIX_SOCKET)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _replace_stale_socket(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        except OSError as exc:
            listener.close()
            raise ConfigurationError(f"cannot listen on {path}: {exc.strerror or exc}") from exc
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        listener.listen(128)
        return listener


def _replace_stale_socket(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ConfigurationError(
            f"{path} exists and is not a socket; move it away or choose --socket"
        )
    if sys.platform == "win32":  # never called there: no Unix socket to probe
        return
    else:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # a broker that died left it behind
            return
        except OSError as exc:
            raise ConfigurationError(f"cannot check {path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise ConfigurationError(f"another broker is already serving on {path}; stop it first")


def tcp_listener(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0 = any free port)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise ConfigurationError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
        ) from exc
    return listener


def systemd_listeners(listen_pid: str | None, listen_fds: str | None) -> list[socket.socket]:
    """Sockets handed over by systemd socket activation (``LISTEN_PID``, ``LISTEN_FDS``)."""
    if listen_pid != str(os.getpid()):
        return []
    try:
        count = int(listen_fds or "0")
    except ValueError:
        return []
    return [socket.socket(fileno=3 + index) for index in range(count)]
