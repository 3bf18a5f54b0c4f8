"""Running the token broker until SIGTERM or SIGINT (``codex-login serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from codex_login.adapters.client_keys import ClientKeyFile
from codex_login.adapters.peer_credentials import is_unix_socket
from codex_login.adapters.secret_file import make_one, read_secret_file
from codex_login.application.service import AuthService
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.model_api import base_url_problem
from codex_login.entrypoints.broker import (
    Access,
    Broker,
    own_uids,
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
    client_keys: Path | None = None,
) -> None:
    """Listen (systemd's sockets, else ``socket_path`` and maybe TCP) until told to stop."""
    if tcp_port is not None and secret_file is None and client_keys is None:
        suggested = socket_path.parent / "broker.secret"
        raise ConfigurationError(
            "--tcp needs --secret-file FILE (or --client-keys FILE): TCP clients prove who "
            f"they are with that secret; make one with: {make_one(suggested)}"
        )
    if upstream is not None and (problem := base_url_problem(upstream)) is not None:
        raise ConfigurationError(f"--upstream: {problem}")  # never echoed: it may hold a secret
    access = Access(
        uids=own_uids() | frozenset(allow_uids),
        gids=frozenset(allow_gids),
        secret=_private_secret(secret_file) if secret_file else None,
        client_keys=_client_keys(client_keys, say) if client_keys else None,
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
    try:
        read = read_secret_file(path)
    except ConfigurationError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):  # the way to make one, said once
            raise ConfigurationError(f"{exc}; make one with: {make_one(path)}") from exc
        raise
    if read.exposure is not None:
        raise ConfigurationError(read.exposure)
    return read.secret


def _client_keys(path: Path, say: Callable[[str], None]) -> ClientKeyFile:
    """The client keys file, read once now: a bad one stops the broker before it serves."""
    keys = ClientKeyFile(path)
    keys.keys()
    say(f"Client keys: {len(keys.names)} from {path}, read again when it changes")
    return keys


def _listen(path: Path, tcp_port: int | None) -> tuple[list[socket.socket], Path | None]:
    if sys.platform == "win32" and tcp_port is not None:  # no Unix socket there
        return [tcp_listener(tcp_port)], None
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
    if is_unix_socket(listener):
        return f"unix:{name}"
    return f"http://{name[0]}:{name[1]}"
