"""Running the token broker until SIGTERM or SIGINT (``codex-login serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from codex_login.adapters.secret_file import read_secret_file
from codex_login.application.service import AuthService
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.model_api import base_url_problem
from codex_login.entrypoints.broker import (
    Access,
    Broker,
    systemd_listeners,
    tcp_listener,
    unix_listener,
)
from codex_login.entrypoints.settings import Settings


def serve(
    service: AuthService,
    *,
    socket_path: Path,
    tcp_port: int | None,
    secret_file: Path | None,
    allow_uids: Sequence[int],
    allow_gids: Sequence[int],
    say: Callable[[str], None],
    settings: Settings | None = None,
    upstream: str | None = None,
) -> None:
    """Listen (systemd's sockets, else ``socket_path`` and maybe TCP) until told to stop."""
    if tcp_port is not None and secret_file is None:
        raise ConfigurationError(
            "--tcp needs --secret-file: TCP clients prove who they are with that secret"
        )
    if upstream is not None and (problem := base_url_problem(upstream)) is not None:
        raise ConfigurationError(f"--upstream: {problem}")  # never echoed: it may hold a secret
    access = Access(
        uids=frozenset({os.getuid(), *allow_uids}),
        gids=frozenset(allow_gids),
        secret=_private_secret(secret_file) if secret_file else None,
    )
    env = settings or Settings.from_environ()
    activated = systemd_listeners(env.listen_pid, env.listen_fds)
    listeners, created = (activated, None) if activated else _listen(socket_path, tcp_port)
    try:
        broker = Broker(
            service, access=access, access_log=say, upstream=upstream, upstream_ca_file=env.ca_file
        )
        asyncio.run(_run(broker, listeners, say))
    finally:
        for listener in listeners:
            listener.close()
        if created is not None:
            with contextlib.suppress(FileNotFoundError):
                created.unlink()


def _private_secret(path: Path) -> str:
    """The TCP secret; refused unless the file is the owner's alone (whoever reads it has
    the tokens)."""
    read = read_secret_file(path)
    if read.exposure is not None:
        raise ConfigurationError(read.exposure)
    return read.secret


def _listen(path: Path, tcp_port: int | None) -> tuple[list[socket.socket], Path]:
    listeners = [unix_listener(path)]
    if tcp_port is not None:
        try:
            listeners.append(tcp_listener(tcp_port))
        except ConfigurationError:
            listeners[0].close()
            path.unlink()
            raise
    return listeners, path


async def _run(broker: Broker, listeners: list[socket.socket], say: Callable[[str], None]) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await broker.start(listeners)
    say(f"Serving access tokens on {', '.join(_where(listener) for listener in listeners)}")
    await stopping.wait()
    say("Stopping: finishing the requests in flight")
    await broker.stop()
    say("Stopped")


def _where(listener: socket.socket) -> str:
    name = listener.getsockname()
    if listener.family == socket.AF_UNIX:
        return f"unix:{name}"
    return f"http://{name[0]}:{name[1]}"
