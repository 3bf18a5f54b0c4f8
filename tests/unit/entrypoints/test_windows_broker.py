"""The broker on Windows, whose Python has no Unix sockets: the branch driven here."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from codex_login.adapters.peer_credentials import is_unix_socket
from codex_login.domain.errors import ConfigurationError
from codex_login.entrypoints.broker import Access, unix_listener


def test_a_unix_socket_listener_is_refused_in_one_line_naming_tcp_with_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(ConfigurationError) as caught:
        unix_listener(tmp_path / "broker.sock")
    message = str(caught.value)
    assert "--tcp" in message
    assert "--secret-file" in message
    assert "\n" not in message
    assert not (tmp_path / "broker.sock").exists()


def test_no_uid_is_allowed_by_default_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert Access().uids == frozenset()


def test_no_socket_is_a_unix_socket_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        assert is_unix_socket(sock)
        monkeypatch.setattr(sys, "platform", "win32")
        assert not is_unix_socket(sock)
