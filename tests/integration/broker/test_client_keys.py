"""Client keys on a real ``codex-login serve --tcp --client-keys FILE`` child (issue 24).

Each sandbox has its own key; the file is re-read when it changes, so a removed key
is refused from the next request on (even on a kept-alive connection) and a file
renamed over it takes effect at once. The access log names the client, never a key.
Also: ``serve --tcp`` without a secret, or with a missing secret file, says how to
make one.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from codex_login.adapters.client_keys import ClientKeyFile
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Access, Broker, tcp_listener, unix_listener
from support.broker import (
    ServedBroker,
    answer_on,
    connect,
    free_port,
    running_broker,
    tcp_request,
    unix_request,
)
from support.cli import run_cli
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored
from support.other_users import NOBODY_GID, NOBODY_UID
from support.servers import loop_in_thread, run_in

KEY_A = "sandbox-a-" + secrets.token_urlsafe(24)
KEY_B = "sandbox-b-" + secrets.token_urlsafe(24)
KEY_C = "sandbox-c-" + secrets.token_urlsafe(24)


def write_keys(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys(tmp_path / "clients", f"# sandboxes\nsandbox-a {KEY_A}\nsandbox-b {KEY_B}\n")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def serving(home: Path, tmp_path: Path, port: int, *args: str) -> tuple[str, ...]:
    return ("--socket", str(tmp_path / "b.sock"), "--tcp", str(port), *args)


def status_with(port: int, key: str) -> int:
    return tcp_request(port, headers=bearer(key)).status


def assert_no_keys(broker: ServedBroker, *keys: str) -> None:
    for line in broker.lines():
        for key in keys:
            assert key not in line, f"a key in the broker's log: {line!r}"


def test_each_sandbox_uses_its_own_key_and_the_log_names_it(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(keys_file))
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        assert "Client keys: 2 from" in broker.stderr()
        expected = stored(home)["tokens"]["access_token"]
        for key in (KEY_A, KEY_B):
            answer = tcp_request(port, headers=bearer(key))
            assert (answer.status, answer.json()["access_token"]) == (200, expected)
        assert status_with(port, KEY_C) == 403
        assert tcp_request(port).status == 403
        assert status_with(port, KEY_A + "x") == 403
        lines = broker.wait_for_lines(lambda line: "/v1/token " in line, count=5)
        assert lines[0].startswith("127.0.0.1 client=sandbox-a GET /v1/token 200 ")
        assert lines[1].startswith("127.0.0.1 client=sandbox-b GET /v1/token 200 ")
        assert [line.split(" GET ")[0] for line in lines[2:]] == ["127.0.0.1"] * 3
        assert_no_keys(broker, KEY_A, KEY_B, KEY_C, expected)


def test_a_removed_key_is_refused_from_the_next_request_on(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(keys_file))
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        request = (
            f"GET /v1/token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY_B}\r\n\r\n"
        ).encode()
        with connect(("127.0.0.1", port)) as sock:  # a kept-alive connection of sandbox-b
            sock.sendall(request)
            first = answer_on(sock)
            assert first is not None
            assert first.status == 200
            with keys_file.open("w") as file:  # edited in place: sandbox-b removed
                file.write(f"sandbox-a {KEY_A}\n")
            sock.sendall(request)
            second = answer_on(sock)
            assert second is not None
            assert second.status == 403
        assert status_with(port, KEY_B) == 403
        assert status_with(port, KEY_A) == 200
        broker.wait_for_line(lambda line: "- 1 client keys from" in line)
        assert_no_keys(broker, KEY_A, KEY_B)


def test_a_file_renamed_over_the_keys_takes_effect_at_once(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(keys_file))
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        assert status_with(port, KEY_A) == 200
        new = write_keys(tmp_path / "clients.new", f"sandbox-c {KEY_C}\nsandbox-b {KEY_B}\n")
        new.replace(keys_file)
        assert status_with(port, KEY_A) == 403
        assert status_with(port, KEY_C) == 200
        assert status_with(port, KEY_B) == 200
        broker.wait_for_line(lambda line: "client=sandbox-c GET /v1/token 200 " in line)


def test_a_key_file_that_goes_bad_refuses_every_key_until_fixed(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(keys_file))
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        keys_file.chmod(0o644)
        assert status_with(port, KEY_A) == 403
        said = broker.wait_for_line(lambda line: "refusing every client key" in line)
        assert said == (
            f"- refusing every client key: the client keys file {keys_file} has mode 0644, "
            f"so other users can read or change it; run: chmod 600 {keys_file}"
        )
        keys_file.chmod(0o600)
        assert status_with(port, KEY_A) == 200
        assert broker.socket is not None
        assert unix_request(broker.socket).status == 200  # the socket never depended on it


def test_client_keys_work_beside_the_secret_file(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    secret = secrets.token_urlsafe(32)
    secret_file = write_keys(tmp_path / "broker.secret", secret + "\n")
    port = free_port()
    args = serving(
        home, tmp_path, port, "--secret-file", str(secret_file), "--client-keys", str(keys_file)
    )
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        assert status_with(port, secret) == 200
        assert status_with(port, KEY_A) == 200
        lines = broker.wait_for_lines(lambda line: " 200 " in line and "/v1/token" in line, 2)
        assert lines[0].startswith("127.0.0.1 client=secret GET /v1/token 200 ")
        assert lines[1].startswith("127.0.0.1 client=sandbox-a GET /v1/token 200 ")
        assert_no_keys(broker, secret, KEY_A)


def test_a_bad_line_stops_serve_with_one_line_naming_it(
    tmp_path: Path, home: Path, keys_file: Path
) -> None:
    write_keys(keys_file, f"sandbox-a {KEY_A}\n\n{KEY_B}\n")
    result = run_cli(
        "serve", *serving(home, tmp_path, free_port(), "--client-keys", str(keys_file)), home=home
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: the client keys file {keys_file}, line 3: expected NAME KEY, two fields"
    ]
    assert not (tmp_path / "b.sock").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_key_file_others_can_read_stops_serve(
    tmp_path: Path, home: Path, keys_file: Path, mode: int
) -> None:
    keys_file.chmod(mode)
    result = run_cli(
        "serve", *serving(home, tmp_path, free_port(), "--client-keys", str(keys_file)), home=home
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert f"has mode {mode:04o}" in line
    assert f"chmod 600 {keys_file}" in line
    assert KEY_A not in line


def test_a_key_file_another_user_owns_stops_serve(
    tmp_path: Path, home: Path, keys_file: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(keys_file, NOBODY_UID, NOBODY_GID)
    result = run_cli(
        "serve", *serving(home, tmp_path, free_port(), "--client-keys", str(keys_file)), home=home
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "belongs to uid 65534" in line


# -- serve --tcp without a secret: how to make one (item 7) -----------------------------


def test_tcp_without_a_secret_says_how_to_make_one(tmp_path: Path, home: Path) -> None:
    result = run_cli(
        "serve", "--socket", str(home / "broker.sock"), "--tcp", str(free_port()), home=home
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: --tcp needs --secret-file FILE (or --client-keys FILE)")
    assert line.endswith(
        f"make one with: (umask 077; head -c 32 /dev/urandom | base64 > {home / 'broker.secret'})"
    )


def test_a_missing_secret_file_says_how_to_make_it_and_the_recipe_works(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    path = tmp_path / "broker.secret"
    port = free_port()
    args = serving(home, tmp_path, port, "--secret-file", str(path))
    refused = run_cli("serve", *args, home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"Error: cannot read the secret file {path}: No such file")
    recipe = line.split("make one with: ", 1)[1]
    made = subprocess.run(["/bin/sh", "-c", recipe], capture_output=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    with running_broker(home, *args, env=issuer_env(home, issuer)):
        assert status_with(port, path.read_text().strip()) == 200


def test_a_missing_key_file_says_how_to_make_it_and_the_recipe_works(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    path = tmp_path / "clients"
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(path))
    refused = run_cli("serve", *args, home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"Error: cannot read the client keys file {path}: No such file")
    recipe = line.split("make one with: ", 1)[1]
    made = subprocess.run(["/bin/sh", "-c", recipe], capture_output=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    name, key = path.read_text().split()
    assert name == "sandbox-a"
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        assert status_with(port, key) == 200
        broker.wait_for_line(lambda line: "client=sandbox-a GET /v1/token 200" in line)


# -- Broker.client_name: the name the proxy's log and metrics use ----------------------


class NamingBroker(Broker):
    """A broker whose /healthz records ``client_name`` of each request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names: list[str] = []

    async def _health(self, request: web.Request) -> web.StreamResponse:
        self.names.append(self.client_name(request))
        return await super()._health(request)


def test_client_name_is_the_key_name_the_secret_or_the_uid(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    secret = secrets.token_urlsafe(32)
    service = bootstrap(codex_home=home, issuer=issuer.url, environ={})
    access = Access(secret=secret, client_keys=ClientKeyFile(keys_file))
    broker = NamingBroker(service, access=access, access_log=lambda line: None)
    path = tmp_path / "b.sock"
    listeners = [unix_listener(path), tcp_listener(0)]
    port = listeners[1].getsockname()[1]
    try:
        with loop_in_thread("broker") as loop:
            run_in(loop, broker.start(listeners))
            try:
                assert tcp_request(port, target="/healthz", headers=bearer(KEY_B)).status == 200
                assert tcp_request(port, target="/healthz", headers=bearer(secret)).status == 200
                assert unix_request(path, target="/healthz").status == 200
                assert tcp_request(port, target="/healthz").status == 403
            finally:
                run_in(loop, broker.stop(), timeout=60)
    finally:
        for listener in listeners:
            listener.close()
    assert broker.names == ["sandbox-b", "secret", f"uid={os.getuid()}"]


def test_each_client_key_has_its_own_share_of_forced_refreshes(
    tmp_path: Path, home: Path, issuer: FakeIssuer, keys_file: Path
) -> None:
    port = free_port()
    args = serving(home, tmp_path, port, "--client-keys", str(keys_file))
    with running_broker(home, *args, env=issuer_env(home, issuer)) as broker:
        stale = b'{"stale": "a-token-no-longer-current"}'

        def force(key: str) -> None:
            answer = tcp_request(port, "POST", "/v1/token/refresh", body=stale, headers=bearer(key))
            assert answer.status == 200

        for _ in range(4):  # a share is 3, then one per 10 s
            force(KEY_A)
        force(KEY_B)  # sandbox-a used up its own share, not sandbox-b's
        lines = broker.wait_for_lines(lambda line: "POST /v1/token/refresh 200" in line, 5)
    limited = [line.split(" POST ")[0] for line in lines if "forced refresh limited" in line]
    assert limited == ["127.0.0.1 client=sandbox-a"]
