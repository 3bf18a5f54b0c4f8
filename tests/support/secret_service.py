"""A real Secret Service for tests: a private D-Bus session bus and gnome-keyring-daemon.

``running_secret_service(directory)`` starts ``dbus-daemon --session`` on a socket in
``directory``, then ``gnome-keyring-daemon --foreground --unlock --components=secrets``
on that bus with a private HOME and XDG directories: ``--unlock`` reads the test
password on stdin and creates the ``login`` keyring, unlocked, which is the
``default`` alias that the Codex CLI and python-keyring both write to. It waits until
the bus name ``org.freedesktop.secrets`` is owned and the default collection is
unlocked, and stops both processes by their PIDs.

Nothing changes this process's environment: children get ``env`` (the bus address),
and in-process code sets ``DBUS_SESSION_BUS_ADDRESS`` itself (the ``secret_service``
fixture does, through monkeypatch).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import secretstorage
from jeepney import DBus
from jeepney.io.blocking import open_dbus_connection

from support.waiting import wait_until

UNAVAILABLE = "Secret Service unavailable"  # tests/conftest.py fails such skips under CI
PASSWORD = "codex-login-test-password"
BUS_NAME = "org.freedesktop.secrets"
TOOLS = ("dbus-daemon", "gnome-keyring-daemon")


class SecretServiceUnavailable(Exception):
    """The daemon cannot run here; the message says why (a skip reason)."""


@dataclass(frozen=True)
class SecretService:
    address: str  # the private bus: DBUS_SESSION_BUS_ADDRESS for every client

    @property
    def env(self) -> dict[str, str]:
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}


def missing_tool() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{UNAVAILABLE}: {tool} is not installed (run .ci/install-keyring.sh)"
    return None


@contextlib.contextmanager
def running_secret_service(directory: Path, timeout: float = 30) -> Iterator[SecretService]:
    problem = missing_tool()
    if problem:
        raise SecretServiceUnavailable(problem)
    private = _private_dirs(directory)
    bus = _start_bus(directory / "bus", private)
    try:
        address = _bus_address(bus, timeout)
        daemon = _start_keyring(address, private)
        try:
            _wait_until_ready(address, daemon, timeout)
            yield SecretService(address)
        finally:
            _stop(daemon)
    finally:
        _stop(bus)


def _private_dirs(directory: Path) -> dict[str, str]:
    names = {"HOME": "home", "XDG_DATA_HOME": "data", "XDG_RUNTIME_DIR": "run"}
    env = {}
    for variable, name in names.items():
        path = directory / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[variable] = str(path)
    env["XDG_CONFIG_HOME"] = env["HOME"]
    return env


def _base_env(private: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **private}


def _start_bus(socket: Path, private: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            f"--address=unix:path={socket}",
            "--print-address=1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_base_env(private),
        text=True,
    )


def _bus_address(bus: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line: dbus-daemon prints it once it listens."""
    assert bus.stdout is not None
    line = bus.stdout.readline().strip()  # ends at the line or at exit
    if not line:
        _stop(bus)
        stderr = bus.stderr.read() if bus.stderr else ""
        raise SecretServiceUnavailable(f"{UNAVAILABLE}: dbus-daemon did not start: {stderr}")
    return line


def _start_keyring(address: str, private: dict[str, str]) -> subprocess.Popen[str]:
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**_base_env(private), "DBUS_SESSION_BUS_ADDRESS": address},
        text=True,
    )
    assert daemon.stdin is not None
    daemon.stdin.write(PASSWORD)  # --unlock: the password, then end of file
    daemon.stdin.close()
    return daemon


def _wait_until_ready(address: str, daemon: subprocess.Popen[str], timeout: float) -> None:
    """Until the default collection is there and unlocked (looked at every 20 ms); the
    daemon exiting first, or the deadline, is a reason to skip."""

    def ready() -> bool:
        if daemon.poll() is not None:
            stderr = daemon.stderr.read() if daemon.stderr else ""
            raise SecretServiceUnavailable(
                f"{UNAVAILABLE}: gnome-keyring-daemon exited ({daemon.returncode}): {stderr}"
            )
        return _default_collection_unlocked(address)

    wait_until(
        ready,
        timeout,
        f"gnome-keyring-daemon to serve {BUS_NAME}",
        poll=0.02,
        error=lambda said: SecretServiceUnavailable(f"{UNAVAILABLE}: {said}"),
    )


def _default_collection_unlocked(address: str) -> bool:
    with open_dbus_connection(bus=address) as connection:
        reply = connection.send_and_get_reply(DBus().NameHasOwner(BUS_NAME))
        if not reply.body[0]:
            return False
        try:
            # The alias alone: get_default_collection could create a collection of its
            # own if the daemon had not made its login keyring yet.
            collection = secretstorage.Collection(connection)
            return not collection.is_locked()
        except secretstorage.exceptions.SecretStorageException:
            return False


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr, process.stdin):
        if stream is not None:
            stream.close()


def item_attributes(address: str, service: str, account: str) -> list[tuple[str, dict[str, str]]]:
    """(label, attributes) of every item for (service, account) on the bus at ``address``."""
    with open_dbus_connection(bus=address) as connection:
        items = secretstorage.search_items(connection, {"service": service, "username": account})
        return [(item.get_label(), item.get_attributes()) for item in items]


def item_secret(address: str, service: str, account: str) -> bytes | None:
    with open_dbus_connection(bus=address) as connection:
        items = secretstorage.search_items(connection, {"service": service, "username": account})
        for item in items:
            secret: bytes = item.get_secret()
            return secret
    return None
