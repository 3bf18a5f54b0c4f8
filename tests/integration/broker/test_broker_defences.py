"""The token broker against other local users and clients without the secret (issue 20).

Each test reproduces an attack on a real ``codex-login serve`` child (or, for
limits the command line does not take, the ``Broker`` in-process): a secret file
others can read, clients that hold every connection slot with keep-alive
refusals, forged access-log lines, a forced-refresh storm, a group check fooled
by a setgid program, and a non-UTF-8 ``Authorization`` header. Another user is
played by ``nobody`` (``setpriv``), as in test_broker_access.py.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from codex_login import CodexAuth
from codex_login.entrypoints.bootstrap import broker_client
from support.broker import (
    PEER_CLIENT,
    Answer,
    answer_on,
    connect,
    free_port,
    running_broker,
    send_raw,
    status_of,
    tcp_request,
    unix_request,
)
from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored
from support.other_users import (
    AS_NOBODY,
    NOBODY_GID,
    NOBODY_UID,
    need_root_and_setpriv,
    open_to_others,
)
from support.posix import posix_module

NOT_A_GROUP_OF_NOBODY = 4242  # no group entry; nobody is no member of it
SYSTEM_PYTHON = "/usr/bin/python3"
QUICK = 2.0  # seconds for an owner's request while the broker is under attack


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "broker.secret"
    path.write_text(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (0711), outside pytest's private tmp tree."""
    with open_to_others("codex-broker-") as path:
        yield path


def as_user(user: str, gid: int, *command: str) -> subprocess.CompletedProcess[bytes]:
    """``command`` run as ``user`` with effective and real gid ``gid`` and no other groups."""
    need_root_and_setpriv()
    return subprocess.run(
        ["setpriv", f"--reuid={user}", f"--regid={gid}", "--clear-groups", *command],
        capture_output=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


def asked_as(user: str, gid: int, socket_path: Path) -> int | None:
    """The status ``user`` (running with gid ``gid``) got for GET /v1/token."""
    result = as_user(user, gid, SYSTEM_PYTHON, "-c", PEER_CLIENT, str(socket_path))
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    return status_of(result.stdout)


def serve_args(socket_path: Path, port: int, secret: Path) -> tuple[str, ...]:
    return ("--socket", str(socket_path), "--tcp", str(port), "--secret-file", str(secret))


def serve_once(home: Path, tmp_path: Path, secret: Path) -> subprocess.CompletedProcess[str]:
    """``serve --tcp`` with ``secret``, expected to stop at once (a refused secret file)."""
    return run_cli("serve", *serve_args(tmp_path / "b.sock", free_port(), secret), home=home)


def closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Whether the other end closes ``sock`` within ``timeout`` (after what it sent)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


# -- 3. the secret file ----------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_secret_file_others_can_read_or_change_is_refused_at_start(
    tmp_path: Path, home: Path, secret_file: Path, mode: int
) -> None:
    secret_file.chmod(mode)
    result = serve_once(home, tmp_path, secret_file)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert str(secret_file) in result.stderr
    assert f"mode {mode:04o}" in result.stderr
    assert f"chmod 600 {secret_file}" in result.stderr
    assert secret_file.read_text().strip() not in result.stderr
    assert not (tmp_path / "b.sock").exists()


def test_a_secret_file_owned_by_another_user_is_refused_at_start(
    tmp_path: Path, home: Path, secret_file: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(secret_file, NOBODY_UID, NOBODY_GID)
    result = serve_once(home, tmp_path, secret_file)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"belongs to uid {NOBODY_UID}" in result.stderr
    assert "umask 077" in result.stderr
    assert not (tmp_path / "b.sock").exists()


def test_the_hint_for_a_new_secret_makes_one_nobody_can_read(
    home: Path, shared_dir: Path, issuer: FakeIssuer
) -> None:
    """Follow the command the error prints: the file it makes is private and accepted."""
    path = shared_dir / "broker.secret"
    path.write_text("short\n")
    path.chmod(0o600)
    refused = serve_once(home, shared_dir, path)
    assert refused.returncode == 1, refused.stderr
    hint = refused.stderr.strip().split("make one with: ", 1)[1]
    made = subprocess.run(["/bin/sh", "-c", hint], capture_output=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32
    read = as_user("nobody", NOBODY_GID, "/bin/cat", str(path))
    assert read.returncode != 0, "nobody read the secret file the hint made"
    assert path.read_text().strip().encode() not in read.stdout
    port = free_port()
    args = serve_args(shared_dir / "b.sock", port, path)
    with running_broker(home, *args, env=issuer_env(home, issuer)):
        auth = {"Authorization": f"Bearer {path.read_text().strip()}"}
        assert tcp_request(port, headers=auth).status == 200


def test_a_client_warns_about_a_secret_file_others_can_read_and_still_asks(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    port = free_port()
    args = serve_args(tmp_path / "b.sock", port, secret_file)
    with running_broker(home, *args, env=issuer_env(home, issuer)):
        copy = tmp_path / "client.secret"
        copy.write_text(secret_file.read_text())
        copy.chmod(0o644)
        env = clean_env(None, CODEX_LOGIN_BROKER_SECRET_FILE=str(copy))
        asked = run_cli("token", "--broker", f"http://127.0.0.1:{port}", env=env)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == f"{stored(home)['tokens']['access_token']}\n"
    [warning] = asked.stderr.splitlines()
    assert warning.startswith("Warning: the secret file ")
    assert "mode 0644" in warning
    assert f"chmod 600 {copy}" in warning
    assert secret_file.read_text().strip() not in warning


# -- 4. denial of service ---------------------------------------------------------------

ATTACK_CONNECTIONS = 600  # more than the old shared cap of 512
KEEP_ALIVE_REFUSAL = b"GET /v1/token HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.mark.slow  # a storm: 600 connections without the secret
def test_clients_without_the_secret_cannot_starve_the_socket_or_tcp(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    """600 TCP connections without the secret: half keep-alive refusals, half silent.

    The owner's requests on the socket, and a TCP client with the secret, are still
    answered at once; the refused and the surplus silent connections are closed.
    """
    port = free_port()
    args = serve_args(tmp_path / "b.sock", port, secret_file)
    secret = secret_file.read_text().strip()
    expected = stored(home)["tokens"]["access_token"]
    held: list[socket.socket] = []
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        assert broker.socket is not None
        try:
            refusals: list[Answer | None] = []
            for index in range(ATTACK_CONNECTIONS):
                sock = connect(("127.0.0.1", port), timeout=10.0)
                held.append(sock)
                if index % 2 == 0:  # a keep-alive request without the secret
                    with suppress(BrokenPipeError, ConnectionResetError):
                        sock.sendall(KEEP_ALIVE_REFUSAL)
                    refusals.append(answer_on(sock))
            for _ in range(5):
                started = time.monotonic()
                owner = unix_request(broker.socket, timeout=QUICK)
                assert (owner.status, owner.json()["access_token"]) == (200, expected)
                assert time.monotonic() - started < QUICK
            granted = tcp_request(
                port, headers={"Authorization": f"Bearer {secret}"}, timeout=QUICK
            )
            assert granted.status == 200
            answered = [answer for answer in refusals if answer is not None]
            assert answered, "no refusal was answered"
            for answer in answered:
                assert answer.status == 403
                assert answer.header("Connection") == "close"
                assert answer.header("Cache-Control") == "no-store"
                assert answer.json()["error"] == "forbidden"
            # Every refused connection, and all but a few silent ones, were closed by the broker.
            closed = sum(closed_by_peer(sock, timeout=0.2) for sock in held)
            assert closed >= ATTACK_CONNECTIONS - 16, f"{closed} of {ATTACK_CONNECTIONS} closed"
        finally:
            for sock in held:
                sock.close()


def test_a_refused_request_closes_its_connection(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    port = free_port()
    with running_broker(
        home, *serve_args(tmp_path / "b.sock", port, secret_file), env=issuer_env(home, issuer)
    ):
        with connect(("127.0.0.1", port)) as sock:
            sock.sendall(KEEP_ALIVE_REFUSAL)
            answer = answer_on(sock)
            assert answer is not None
            assert (answer.status, answer.header("Connection")) == (403, "close")
            started = time.monotonic()
            assert closed_by_peer(sock), "the broker kept a refused connection open"
            assert time.monotonic() - started < 1.0
        # An allowed client keeps its connection.
        with connect(("127.0.0.1", port)) as sock:
            secret = secret_file.read_text().strip()
            auth = f"Authorization: Bearer {secret}\r\n".encode()
            request = KEEP_ALIVE_REFUSAL.replace(b"\r\n\r\n", b"\r\n" + auth + b"\r\n")
            for _ in range(3):
                sock.sendall(request)
                kept = answer_on(sock)
                assert kept is not None
                assert kept.status == 200
                assert kept.header("Connection") != "close"


# Runs as another user: opens argv[2] connections to the socket argv[1], asks once on each
# (keep-alive), prints how many were answered 200, and holds them until stdin closes.
HOG = r"""
import socket, sys
held, served = [], 0
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sys.argv[1])
        s.sendall(b"GET /v1/token HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = s.recv(65536)
    except OSError:
        head = b""
    served += head.startswith(b"HTTP/1.1 200 ")
    held.append(s)
print(served, flush=True)
sys.stdin.read()
"""
HOG_CONNECTIONS = 200  # more than one peer's share (Limits().max_per_peer, 128)


@pytest.mark.slow  # a storm: 200 connections from one peer
def test_an_allowed_user_cannot_take_every_socket_connection(
    home: Path, issuer: FakeIssuer, shared_dir: Path
) -> None:
    need_root_and_setpriv()
    path = shared_dir / "broker.sock"
    with running_broker(
        home, "--socket", str(path), "--allow-uid", str(NOBODY_UID), env=issuer_env(home, issuer)
    ):
        path.chmod(0o666)
        hog = subprocess.Popen(
            [*AS_NOBODY, SYSTEM_PYTHON, "-c", HOG, str(path), str(HOG_CONNECTIONS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        try:
            assert hog.stdout is not None
            served = int(hog.stdout.readline() or b"-1")
            assert 0 < served <= 128, f"one peer held {served} connections"
            started = time.monotonic()
            assert unix_request(path, timeout=QUICK).status == 200
            assert time.monotonic() - started < QUICK
        finally:
            hog.communicate(timeout=30)


def test_a_401_closes_its_connection(tmp_path: Path) -> None:
    """Not logged in: the refusal is sent with Connection: close, and the broker closes."""
    empty = tmp_path / "codex"
    empty.mkdir(mode=0o700)
    with running_broker(empty) as broker:
        assert broker.socket is not None
        with connect(broker.socket) as sock:
            sock.sendall(KEEP_ALIVE_REFUSAL)
            answer = answer_on(sock)
            assert answer is not None
            assert (answer.status, answer.json()["error"]) == (401, "not_logged_in")
            assert answer.header("Connection") == "close"
            assert closed_by_peer(sock)


def test_the_embedding_api_warns_about_a_secret_file_others_can_read(
    tmp_path: Path, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file.chmod(0o640)
    env = {"CODEX_LOGIN_BROKER_SECRET_FILE": str(secret_file)}
    told: list[str] = []
    broker_client("http://127.0.0.1:1", env, warn=told.append)
    assert len(told) == 1
    assert told[0].startswith(f"Warning: the secret file {secret_file} has mode 0640")
    with caplog.at_level(logging.WARNING):
        CodexAuth(broker="http://127.0.0.1:1", environ=env)
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "mode 0640" in caplog.records[0].getMessage()
    assert secret_file.read_text().strip() not in caplog.text


# -- 6a. forged access-log lines -----------------------------------------------------------

FORGED = "127.0.0.1 GET /v1/token 200 0.1ms"


def test_a_path_cannot_forge_or_colour_access_log_lines(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    port = free_port()
    with running_broker(
        home, *serve_args(tmp_path / "b.sock", port, secret_file), env=issuer_env(home, issuer)
    ) as broker:
        before = len(broker.lines())
        forged = FORGED.replace(" ", "%20")
        targets = [
            f"/x%0d%0a{forged}",
            f"/x%0a{forged}",
            "/x%1b[2J%1b]52;c;cHduZWQ=%07",
            "/x%c2%9b31m%e2%80%ae",
            "/" + "a" * 2000,
        ]
        for target in targets:
            sent = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            answer = send_raw(("127.0.0.1", port), sent)
            assert answer is not None
            assert answer.status == 403
        raw = b"GET /x\x1b[31mred HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        send_raw(("127.0.0.1", port), raw)  # refused by the HTTP parser: its own line
        marker = tcp_request(port, target="/the-end")
        assert marker.status == 403
        broker.wait_for_line(lambda line: "/the-end 403 " in line)
        lines = broker.lines()[before:]
    assert len(lines) == len(targets) + 2, lines
    for line in lines:
        access = re.fullmatch(r"127\.0\.0\.1 GET \S+ 403 [0-9.]+ms", line)
        assert access or line.startswith("- rejected a request that is not valid HTTP"), line
        assert not any(ord(char) < 0x20 or ord(char) >= 0x7F for char in line), line
        assert len(line) < 200, line
    assert not any(FORGED in line for line in lines)
    # What was sent, as it was sent: encoded, not decoded into line breaks and escapes.
    assert lines[0].startswith(f"127.0.0.1 GET /x%0d%0a{forged} 403 ")
    assert lines[2].startswith("127.0.0.1 GET /x%1b[2J%1b]52;c;cHduZWQ=%07 403 ")
    assert lines[4].startswith(f"127.0.0.1 GET {targets[4][:128]}... 403 ")  # truncated


# -- 6b. forced refreshes ---------------------------------------------------------------


@pytest.mark.slow  # a storm: 100 forced refreshes
def test_one_client_cannot_force_a_refresh_storm(home: Path, issuer: FakeIssuer) -> None:
    """100 forced refreshes, each of the token just handed out: a few reach the issuer."""
    with running_broker(home, env=issuer_env(home, issuer)) as broker:
        assert broker.socket is not None
        current = unix_request(broker.socket).json()["access_token"]
        started = time.monotonic()
        statuses = []
        for _ in range(100):
            body = f'{{"stale": "{current}"}}'.encode()
            answer = unix_request(
                broker.socket,
                "POST",
                "/v1/token/refresh",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            statuses.append(answer.status)
            current = answer.json()["access_token"]
        elapsed = time.monotonic() - started
        refreshes = len(issuer.posts("refresh_token"))
        allowed = 3 + int(elapsed / 10) + 1  # the burst, then one per 10 s
        assert refreshes <= allowed, f"{refreshes} refreshes in {elapsed:.1f} s"
        assert statuses == [200] * 100
        assert current == stored(home)["tokens"]["access_token"]
        limited = broker.wait_for_line(lambda line: "forced refresh limited" in line)
        assert limited.startswith(f"uid={os.getuid()} pid=")


# -- 6c. --allow-gid -------------------------------------------------------------------------


def test_allow_gid_checks_the_users_groups_not_the_peers_gid(
    home: Path, issuer: FakeIssuer, shared_dir: Path
) -> None:
    """A setgid program run by a non-member is refused; a member running under another gid is
    served."""
    need_root_and_setpriv()
    path = shared_dir / "broker.sock"
    env = issuer_env(home, issuer)
    with running_broker(
        home, "--socket", str(path), "--allow-gid", str(NOT_A_GROUP_OF_NOBODY), env=env
    ):
        path.chmod(0o666)
        # As a setgid-NOT_A_GROUP_OF_NOBODY program would run: its gid is the group's.
        assert asked_as("nobody", NOT_A_GROUP_OF_NOBODY, path) == 403
    with running_broker(home, "--socket", str(path), "--allow-gid", str(NOBODY_GID), env=env):
        path.chmod(0o666)
        # nogroup is nobody's group in the user database, whatever gid it runs with.
        assert asked_as("nobody", NOT_A_GROUP_OF_NOBODY, path) == 200
        assert asked_as("nobody", NOBODY_GID, path) == 200


def supplementary_member() -> tuple[str, int, int] | None:
    """(user, their primary gid, a group that lists them as a member), if the system has one."""
    grp, pwd = posix_module("grp"), posix_module("pwd")
    for group in grp.getgrall():
        for name in group.gr_mem:
            with suppress(KeyError):
                user = pwd.getpwnam(name)
                if user.pw_uid not in (0, os.getuid()) and user.pw_gid != group.gr_gid:
                    return name, user.pw_gid, group.gr_gid
    return None


def test_allow_gid_serves_supplementary_members(
    home: Path, issuer: FakeIssuer, shared_dir: Path
) -> None:
    found = supplementary_member()
    if found is None:
        pytest.skip("no user here is a supplementary member of a group")
    user, primary, group = found
    path = shared_dir / "broker.sock"
    env = issuer_env(home, issuer)
    with running_broker(home, "--socket", str(path), "--allow-gid", str(group), env=env):
        path.chmod(0o666)
        assert asked_as(user, primary, path) == 200


# -- 6d. a non-UTF-8 Authorization header ----------------------------------------------------


def test_a_non_utf8_authorization_header_is_a_json_400_with_a_log_line(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    port = free_port()
    with running_broker(
        home, *serve_args(tmp_path / "b.sock", port, secret_file), env=issuer_env(home, issuer)
    ) as broker:
        data = b"GET /v1/token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xc3(\r\n\r\n"
        with connect(("127.0.0.1", port)) as sock:
            sock.sendall(data)
            answer = answer_on(sock)
            assert answer is not None
            assert answer.status == 400
            assert answer.header("Cache-Control") == "no-store"
            assert (answer.header("Content-Type") or "").startswith("application/json")
            assert answer.json()["error"] == "bad_request"
            assert answer.header("Connection") == "close"
            assert closed_by_peer(sock)
        line = broker.wait_for_line(lambda line: " 400 " in line)
        assert line.startswith("127.0.0.1 GET /v1/token 400 ")
