"""Who the token broker serves, and what it hands out (SPEC §8).

On the Unix socket: the socket file is private and peers are checked by uid/gid
(``SO_PEERCRED``), so another user is refused even when the file mode would let
it in. On loopback TCP: a bearer secret, read from a file. Every answer is the
access token alone, never the refresh token or the ID token, and every refused
request leaves one access-log line without a secret in it.
"""

from __future__ import annotations

import secrets
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from codex_login.domain.jwt import decode_payload
from support.broker import (
    PEER_CLIENT,
    Answer,
    ServedBroker,
    free_port,
    running_broker,
    send_raw,
    status_of,
    tcp_request,
    unix_request,
)
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored
from support.other_users import (
    AS_NOBODY,
    NOBODY_GID,
    NOBODY_UID,
    need_root_and_setpriv,
    open_to_others,
)

FIELDS = {
    "access_token",
    "token_type",
    "expires_at",
    "expires_in",
    "account_id",
    "mode",
    "base_url",
    "headers",
}
SYSTEM_PYTHON = "/usr/bin/python3"


def secrets_of(home: Path) -> dict[str, str]:
    tokens = stored(home)["tokens"]
    return {name: tokens[name] for name in ("access_token", "refresh_token", "id_token")}


def assert_only_the_access_token(answer: Answer, home: Path) -> dict[str, Any]:
    """A 200 token document with the documented fields and nothing secret beside the token."""
    assert answer.status == 200, answer.body
    assert answer.header("Cache-Control") == "no-store"
    assert (answer.header("Content-Type") or "").startswith("application/json")
    document: dict[str, Any] = answer.json()
    assert set(document) == FIELDS
    kept = secrets_of(home)
    assert document["access_token"] == kept["access_token"]
    assert (document["token_type"], document["mode"], document["account_id"]) == (
        "Bearer",
        "chatgpt",
        "acc-123",
    )
    exp = decode_payload(kept["access_token"])["exp"]
    assert isinstance(exp, int)
    assert document["expires_at"] == datetime.fromtimestamp(exp, UTC).isoformat().replace(
        "+00:00", "Z"
    )
    assert 3500 <= document["expires_in"] <= 3600
    everything = answer.raw()
    for name in ("refresh_token", "id_token"):
        assert kept[name] not in everything, f"the answer leaks the {name}"
        assert name not in everything
    return document


def assert_no_secrets(lines: list[str], *values: str) -> None:
    for line in lines:
        for value in values:
            assert value not in line, f"a secret in the broker's log: {line!r}"


def access_lines(broker: ServedBroker, status: int) -> list[str]:
    return [line for line in broker.lines() if f" {status} " in line and "/" in line]


# -- the Unix socket -------------------------------------------------------------------


def test_the_socket_is_private_and_answers_the_access_token_only(
    home: Path, issuer: FakeIssuer
) -> None:
    with running_broker(home, env=issuer_env(home, issuer)) as broker:
        assert broker.socket == home / "broker.sock"
        info = broker.socket.lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert stat.S_IMODE(broker.socket.parent.stat().st_mode) == 0o700
        assert_only_the_access_token(unix_request(broker.socket), home)
        health = unix_request(broker.socket, target="/healthz")
        assert (health.status, health.json()) == (200, {"status": "ok"})
        assert health.header("Cache-Control") == "no-store"
        broker.wait_for_lines(lambda line: " GET /v1/token 200 " in line)
        assert_no_secrets(broker.lines(), *secrets_of(home).values())


def test_a_socket_in_a_new_directory_gets_a_private_directory(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    path = tmp_path / "run" / "codex-login" / "broker.sock"
    with running_broker(home, "--socket", str(path), env=issuer_env(home, issuer)) as broker:
        assert broker.socket == path
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert_only_the_access_token(unix_request(path), home)


def test_token_command_asks_the_broker_on_the_socket(home: Path, issuer: FakeIssuer) -> None:
    with running_broker(home, env=issuer_env(home, issuer)) as broker:
        assert broker.socket is not None
        expected = stored(home)["tokens"]["access_token"]
        # A sandbox: no CODEX_HOME, no store; only the broker's address.
        sandbox = clean_env(None)
        by_option = run_in_process("token", "--broker", str(broker.socket), env=sandbox)
        assert (by_option.returncode, by_option.stdout) == (0, f"{expected}\n"), by_option.stderr
        by_env = run_in_process("token", env=clean_env(None, CODEX_LOGIN_BROKER=str(broker.socket)))
        assert (by_env.returncode, by_env.stdout) == (0, f"{expected}\n"), by_env.stderr
        # The address as serve prints it ("Serving access tokens on unix:PATH"), and as a URI.
        for said in (f"unix:{broker.socket}", f"unix://{broker.socket}"):
            as_printed = run_in_process("token", "--broker", said, env=sandbox)
            assert (as_printed.returncode, as_printed.stdout) == (0, f"{expected}\n"), said


@pytest.fixture
def shared_socket_dir() -> Iterator[Path]:
    """A directory another user can reach (0711), outside pytest's private tmp tree."""
    with open_to_others("codex-broker-") as path:
        yield path


def as_nobody(socket_path: Path) -> tuple[int | None, str]:
    """The status and the raw answer (headers and body) a client running as nobody got."""
    need_root_and_setpriv()
    result = subprocess.run(
        [
            *AS_NOBODY,
            SYSTEM_PYTHON,
            "-c",
            PEER_CLIENT,
            str(socket_path),
        ],
        capture_output=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    return status_of(result.stdout), result.stdout.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "allow",
    [
        pytest.param(("--allow-uid", str(NOBODY_UID)), id="allow-uid"),
        pytest.param(("--allow-gid", str(NOBODY_GID)), id="allow-gid"),
    ],
)
def test_another_user_is_refused_by_peer_credentials_until_allowed(
    home: Path, issuer: FakeIssuer, shared_socket_dir: Path, allow: tuple[str, str]
) -> None:
    path = shared_socket_dir / "broker.sock"
    env = issuer_env(home, issuer)
    with running_broker(home, "--socket", str(path), env=env) as broker:
        path.chmod(0o666)  # the file mode lets nobody in: SO_PEERCRED must be what refuses
        status, refused = as_nobody(path)
        assert status == 403, refused
        head, body = refused.split("\r\n\r\n", 1)
        assert "Cache-Control: no-store" in head
        assert '"error": "forbidden"' in body
        assert stored(home)["tokens"]["access_token"] not in refused
        line = broker.wait_for_line(lambda line: " 403 " in line)
        assert line.startswith(f"uid={NOBODY_UID} pid=")
        assert " GET /v1/token 403 " in line
        assert len(access_lines(broker, 403)) == 1
        # The owner is still served.
        assert unix_request(path).status == 200
    with running_broker(home, "--socket", str(path), *allow, env=env) as broker:
        path.chmod(0o666)
        status, served = as_nobody(path)
        assert status == 200, served
        assert stored(home)["tokens"]["access_token"] in served
        assert stored(home)["tokens"]["refresh_token"] not in served
        assert stored(home)["tokens"]["id_token"] not in served
        line = broker.wait_for_line(lambda line: " 200 " in line)
        assert line.startswith(f"uid={NOBODY_UID} pid=")


# -- loopback TCP ----------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "broker.secret"
    path.write_text(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    return path


def test_tcp_needs_the_secret(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    secret = secret_file.read_text().strip()
    port = free_port()
    args = ("--socket", str(tmp_path / "b.sock"), "--tcp", str(port), "--secret-file")
    with running_broker(home, *args, str(secret_file), env=issuer_env(home, issuer)) as broker:
        assert broker.url == f"http://127.0.0.1:{port}"
        wrong = "not-the-secret-" + secrets.token_urlsafe(16)
        refusals = [
            {},
            {"Authorization": f"Bearer {wrong}"},
            {"Authorization": f"Bearer {secret[:-1]}"},
            {"Authorization": f"Bearer {secret}x"},
            {"Authorization": f"Basic {secret}"},
            {"Authorization": secret},
            {"X-Secret": secret},
        ]
        for headers in refusals:
            answer = tcp_request(port, headers=headers)
            assert answer.status == 403, (headers.keys(), answer.body)
            assert answer.header("Cache-Control") == "no-store"
            assert answer.json()["error"] == "forbidden"
            assert stored(home)["tokens"]["access_token"] not in answer.raw()
        assert tcp_request(port, target="/healthz").status == 403  # the secret guards it all
        granted = tcp_request(port, headers={"Authorization": f"Bearer {secret}"})
        assert_only_the_access_token(granted, home)
        # One access-log line per refused request, with the peer, never a secret.
        refused = broker.wait_for_lines(lambda line: " 403 " in line, len(refusals) + 1)
        assert len(refused) == len(refusals) + 1
        assert all(line.startswith("127.0.0.1 GET /") for line in refused)
        broker.wait_for_line(lambda line: " GET /v1/token 200 " in line)
        assert_no_secrets(broker.lines(), secret, wrong, *secrets_of(home).values())


MALFORMED = [
    "Authorization: Bearer {secret}\x01",  # a control character in the value
    "Authorization : Bearer {secret}",  # a space before the colon
    "Authorization: Bearer {secret}" + "x" * 5000,  # longer than a header may be
]


@pytest.mark.parametrize("header", MALFORMED, ids=["control-char", "space-colon", "too-long"])
def test_a_malformed_request_leaves_one_log_line_without_the_secret(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path, header: str
) -> None:
    """A request the HTTP parser refuses is refused like any other: 400, one line, no secret."""
    secret = secret_file.read_text().strip()
    port = free_port()
    args = ("--socket", str(tmp_path / "b.sock"), "--tcp", str(port), "--secret-file")
    with running_broker(home, *args, str(secret_file), env=issuer_env(home, issuer)) as broker:
        before = len(broker.lines())
        data = (
            "GET /v1/token HTTP/1.1\r\nHost: localhost\r\n"
            + header.format(secret=secret)
            + "\r\nConnection: close\r\n\r\n"
        ).encode()
        answer = send_raw(("127.0.0.1", port), data)
        assert answer is not None
        assert answer.status == 400
        assert stored(home)["tokens"]["access_token"] not in answer.raw()
        # A normal request after it: its line marks that the broker logged everything before.
        granted = tcp_request(port, headers={"Authorization": f"Bearer {secret}"})
        assert granted.status == 200
        broker.wait_for_line(lambda line: " GET /v1/token 200 " in line)
        lines = broker.lines()[before:]
        assert_no_secrets(lines, secret, *secrets_of(home).values())
        assert "Traceback" not in "\n".join(lines)
        assert len(lines) == 2, lines  # the refusal's line, then the request's


def test_token_command_asks_a_tcp_broker_with_the_secret_file(
    tmp_path: Path, home: Path, issuer: FakeIssuer, secret_file: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("--socket", str(tmp_path / "b.sock"), "--tcp", str(port), "--secret-file")
    with running_broker(home, *args, str(secret_file), env=issuer_env(home, issuer)) as broker:
        expected = stored(home)["tokens"]["access_token"]
        sandbox = clean_env(None, CODEX_LOGIN_BROKER_SECRET_FILE=str(secret_file))
        asked = run_in_process("token", "--broker", url, env=sandbox)
        assert (asked.returncode, asked.stdout) == (0, f"{expected}\n"), asked.stderr
        by_env = run_in_process("token", env={**sandbox, "CODEX_LOGIN_BROKER": url})
        assert (by_env.returncode, by_env.stdout) == (0, f"{expected}\n"), by_env.stderr

        no_secret = run_in_process("token", "--broker", url, env=clean_env(None))
        assert no_secret.returncode == 1
        assert no_secret.stdout == ""
        assert len(no_secret.stderr.splitlines()) == 1
        assert "CODEX_LOGIN_BROKER_SECRET_FILE" in no_secret.stderr

        other = tmp_path / "other.secret"
        wrong = "a-wrong-secret-" + secrets.token_urlsafe(16)
        other.write_text(wrong)
        other.chmod(0o600)  # private: the one line below is the refusal, not a warning
        refused = run_in_process(
            "token", "--broker", url, env=clean_env(None, CODEX_LOGIN_BROKER_SECRET_FILE=str(other))
        )
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert len(refused.stderr.splitlines()) == 1
        assert "refused the secret this process sent" in refused.stderr
        assert "CODEX_LOGIN_BROKER_SECRET_FILE" in refused.stderr  # not --allow-uid: TCP
        assert "--allow-uid" not in refused.stderr
        assert wrong not in refused.stderr
        broker.wait_for_line(lambda line: " 403 " in line)
        assert_no_secrets(broker.lines(), wrong, secret_file.read_text().strip())


@pytest.mark.parametrize("port", ["notaport", "70000"])
@pytest.mark.parametrize("with_secret", [True, False], ids=["secret file", "no secret file"])
def test_a_broker_address_without_a_usable_port_is_said_so(
    tmp_path: Path, port: str, with_secret: bool
) -> None:
    """It was 'unexpected ValueError, a bug' with a secret file, and 'needs its secret'
    without one, when the address is what is wrong."""
    secret_file = tmp_path / "broker.secret"
    secret_file.write_text(secrets.token_urlsafe(32))
    secret_file.chmod(0o600)
    env = clean_env(tmp_path / "home", CODEX_LOGIN_BROKER=f"http://127.0.0.1:{port}")
    if with_secret:
        env["CODEX_LOGIN_BROKER_SECRET_FILE"] = str(secret_file)
    result = run_in_process("token", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: the broker address 'http://127.0.0.1:{port}' has no usable port ("
    )
    assert len(result.stderr.splitlines()) == 1


def test_a_file_that_is_not_a_socket_is_said_so(tmp_path: Path) -> None:
    """It was 'not running (connection refused)', which sent people to start a broker."""
    not_a_socket = tmp_path / "broker.sock"
    not_a_socket.write_text("")
    result = run_in_process("token", "--broker", str(not_a_socket), env=clean_env(None))
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: {not_a_socket} is not a socket: give the socket a broker listens on\n",
    )


def test_tcp_without_a_secret_file_is_a_one_line_error(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "b.sock"
    result = run_cli("serve", "--socket", str(path), "--tcp", str(free_port()), home=home)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "--secret-file" in result.stderr
    assert not path.exists()


@pytest.mark.parametrize(
    "content",
    ["tiny-secret", "   \n", "\n", "0123456789abcde\n"],
    ids=["short", "blank", "empty", "15-characters"],
)
def test_a_short_secret_is_refused(tmp_path: Path, home: Path, content: str) -> None:
    path = tmp_path / "b.sock"
    short = tmp_path / "short.secret"
    short.write_text(content)
    result = run_cli(
        "serve",
        "--socket",
        str(path),
        "--tcp",
        str(free_port()),
        "--secret-file",
        str(short),
        home=home,
    )
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "shorter than" in result.stderr
    if content.strip():
        assert content.strip() not in result.stderr
    assert not path.exists()
