"""The token broker's answers, and its clients: `codex-login token --broker` and the twins."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login import CodexAuth, ConfigurationError, NotLoggedIn
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Broker, unix_listener
from codex_login.stores import FileCredentialStore
from support import broker as served
from support.cli import clean_env, run_in_process
from support.fake_issuer import Failure, FakeIssuer
from support.logins import stored, write_login
from support.servers import loop_in_thread, run_in


@contextmanager
def running_broker(home: Path, issuer: FakeIssuer) -> Iterator[tuple[Path, list[str]]]:
    """A broker over ``home``'s login, served from a thread; yields its socket and its log."""
    service = bootstrap(store=FileCredentialStore(home), issuer=issuer.url, environ={})
    lines: list[str] = []
    broker = Broker(service, access_log=lines.append)
    path = home / "broker.sock"
    listener = unix_listener(path)
    try:
        with loop_in_thread("broker") as loop:
            run_in(loop, broker.start([listener]))
            try:
                yield path, lines
            finally:
                run_in(loop, broker.stop())
    finally:
        listener.close()


class Unix(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(self.path))


def ask(
    path: Path, method: str = "GET", url: str = "/v1/token", body: Any = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    connection = Unix(path)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, url, body=data)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def logged_in(home: Path, issuer: FakeIssuer, *, expires_in: timedelta) -> str:
    home.mkdir(mode=0o700, exist_ok=True)
    refresh_token = issuer.new_refresh_token()
    write_login(home, refresh_token, expires_in=expires_in, issuer=issuer.url)
    return refresh_token


def test_a_fresh_token_is_served_without_secrets_it_must_not_give(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer, expires_in=timedelta(hours=1))
    record = stored(tmp_path)["tokens"]
    with running_broker(tmp_path, issuer) as (path, log):
        status, headers, document = ask(path)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert set(document) == {
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "account_id",
        "mode",
        "base_url",
        "headers",
    }
    assert document["access_token"] == record["access_token"]
    assert document["base_url"] == "https://chatgpt.com/backend-api/codex"
    assert document["headers"] == {
        "Authorization": f"Bearer {record['access_token']}",
        "ChatGPT-Account-ID": "acc-123",
    }
    assert (document["token_type"], document["mode"], document["account_id"]) == (
        "Bearer",
        "chatgpt",
        "acc-123",
    )
    assert 3500 < document["expires_in"] <= 3600
    expires_at = datetime.fromisoformat(document["expires_at"].replace("Z", "+00:00"))
    assert abs(expires_at - datetime.now(UTC) - timedelta(hours=1)) < timedelta(minutes=1)
    text = json.dumps(document) + json.dumps(headers) + "".join(log)
    assert record["refresh_token"] not in text
    assert record["id_token"] not in text
    assert issuer.posts("refresh_token") == []
    [line] = log
    assert line.startswith("uid=")
    assert " GET /v1/token 200 " in line


def test_a_due_token_is_refreshed_once_and_stored(tmp_path: Path, issuer: FakeIssuer) -> None:
    logged_in(tmp_path, issuer, expires_in=timedelta(minutes=-1))
    with running_broker(tmp_path, issuer) as (path, _):
        answers = [ask(path) for _ in range(3)]
    assert {status for status, _, _ in answers} == {200}
    assert {document["access_token"] for _, _, document in answers} == {
        stored(tmp_path)["tokens"]["access_token"]
    }
    assert len(issuer.posts("refresh_token")) == 1


def test_a_refused_token_is_refreshed_once_then_never_again(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    logged_in(tmp_path, issuer, expires_in=timedelta(hours=1))
    with running_broker(tmp_path, issuer) as (path, _):
        _, _, first = ask(path)
        refused = first["access_token"]
        status, _, renewed = ask(path, "POST", "/v1/token/refresh", {"stale": refused})
        assert status == 200
        assert renewed["access_token"] != refused
        _, _, again = ask(path, "POST", "/v1/token/refresh", {"stale": refused})
        assert again["access_token"] == renewed["access_token"]
        bad, _, error = ask(path, "POST", "/v1/token/refresh", {"nothing": 1})
    assert len(issuer.posts("refresh_token")) == 1
    assert (bad, error["error"]) == (400, "bad_request")


def test_a_login_of_another_kind_is_401_with_the_reason(tmp_path: Path, issuer: FakeIssuer) -> None:
    tmp_path.chmod(0o700)
    data = b'{"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": "x.y.z"}'
    (tmp_path / "auth.json").write_bytes(data)
    with running_broker(tmp_path, issuer) as (path, _):
        status, _, document = ask(path)
    assert (status, document["error"]) == (401, "login_unusable")
    assert "signs each request" in document["message"]
    assert (tmp_path / "auth.json").read_bytes() == data


def test_not_logged_in_is_401_telling_what_to_do_on_the_host(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    tmp_path.chmod(0o700)
    with running_broker(tmp_path, issuer) as (path, _):
        status, headers, document = ask(path)
    assert status == 401
    assert document["error"] == "not_logged_in"
    assert "on the host, run `codex-login login`" in document["message"]
    assert headers["Cache-Control"] == "no-store"


def test_an_ended_session_is_401_session_ended(tmp_path: Path, issuer: FakeIssuer) -> None:
    logged_in(tmp_path, issuer, expires_in=timedelta(minutes=-1))
    issuer.refresh_failure = Failure(401, '{"error": "refresh_token_reused"}')
    with running_broker(tmp_path, issuer) as (path, _):
        status, _, document = ask(path)
    assert (status, document["error"]) == (401, "session_ended")
    assert "codex-login login" in document["message"]


def test_an_unreachable_issuer_is_503_with_retry_after(tmp_path: Path, issuer: FakeIssuer) -> None:
    logged_in(tmp_path, issuer, expires_in=timedelta(minutes=-1))
    issuer.refresh_failure = Failure(502, "<html>bad gateway</html>", content_type="text/html")
    with running_broker(tmp_path, issuer) as (path, _):
        status, headers, document = ask(path)
    assert (status, document["error"]) == (503, "unavailable")
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/v1/nothing", 404), ("DELETE", "/v1/token", 405), ("GET", "/v1/token/refresh", 405)],
)
def test_other_requests_get_json_errors(
    tmp_path: Path, issuer: FakeIssuer, method: str, url: str, status: int
) -> None:
    tmp_path.chmod(0o700)
    with running_broker(tmp_path, issuer) as (path, _):
        answered, headers, document = ask(path, method, url)
    assert answered == status
    assert headers["Cache-Control"] == "no-store"
    assert set(document) == {"error", "message"}


def test_the_cli_asks_the_broker_and_prints_only_the_token(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home, sandbox = tmp_path / "host", tmp_path / "sandbox"
    logged_in(home, issuer, expires_in=timedelta(hours=1))
    sandbox.mkdir()
    with running_broker(home, issuer) as (path, _):
        by_option = run_in_process("token", "--broker", str(path), home=sandbox)
        by_env = run_in_process(
            "token", "--json", env=clean_env(sandbox, CODEX_LOGIN_BROKER=str(path))
        )
    token = stored(home)["tokens"]["access_token"]
    assert (by_option.returncode, by_option.stdout, by_option.stderr) == (0, f"{token}\n", "")
    assert json.loads(by_env.stdout)["token"] == token
    assert not (sandbox / "auth.json").exists()


def test_an_api_key_login_is_served_with_its_mode_spelled_as_auth_json_spells_it(
    tmp_path: Path,
) -> None:
    key = "sk-test-0123456789abc"
    tmp_path.chmod(0o700)
    (tmp_path / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": key}))
    (tmp_path / "auth.json").chmod(0o600)
    with served.running_broker(tmp_path) as broker:
        assert broker.socket is not None
        answer = served.unix_request(broker.socket)
        printed = run_in_process(
            "token", "--json", "--broker", str(broker.socket), home=tmp_path / "x"
        )
    assert answer.status == 200
    assert (answer.json()["access_token"], answer.json()["mode"]) == (key, "apikey")
    assert answer.json()["mode"] == stored(tmp_path)["auth_mode"]
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == {
        "version": 1,  # the JSON contract's (issue 26)
        "token": key,
        "mode": "apikey",
        "expires_at": None,
        "account_id": None,
        "base_url": "https://api.openai.com/v1",
        "headers": {"Authorization": f"Bearer {key}"},
    }


def test_the_cli_without_a_broker_fails_in_one_line_and_prints_no_token(tmp_path: Path) -> None:
    result = run_in_process("token", "--broker", str(tmp_path / "none.sock"), home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    [line] = result.stderr.splitlines()
    assert "no broker is listening" in line


def test_the_twins_take_their_tokens_from_a_broker(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "host"
    logged_in(home, issuer, expires_in=timedelta(hours=1))
    with running_broker(home, issuer) as (path, log), CodexAuth(broker=str(path)) as auth:
        first = auth.get_token()
        assert auth.get_token() == first
        assert len(log) == 1  # kept until due: one request for both calls
        renewed = auth.refresh(stale=first)
        assert renewed.token != first
        status = auth.status()
        assert status is not None
        assert status.source == f"the broker at {path}"
        with pytest.raises(ConfigurationError, match="log in and out on the host"):
            auth.login_with_api_key("sk-test-0123456789abc")
        assert asyncio.run(auth.as_async().get_token()) == renewed.token
    assert renewed.token == stored(home)["tokens"]["access_token"]


def test_a_broker_that_is_not_logged_in_raises_not_logged_in(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    tmp_path.chmod(0o700)
    with (
        running_broker(tmp_path, issuer) as (path, _),
        CodexAuth(broker=str(path)) as auth,
        pytest.raises(NotLoggedIn, match="on the host"),
    ):
        auth.get_token()


def test_a_broker_without_a_login_has_no_status(tmp_path: Path, issuer: FakeIssuer) -> None:
    tmp_path.chmod(0o700)
    with running_broker(tmp_path, issuer) as (path, _), CodexAuth(broker=str(path)) as auth:
        assert auth.status() is None
        assert asyncio.run(auth.as_async().status()) is None


def test_token_from_a_broker_reads_no_store_or_issuer_setting(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home, sandbox = tmp_path / "host", tmp_path / "sandbox"
    logged_in(home, issuer, expires_in=timedelta(hours=1))
    sandbox.mkdir()
    unrelated = {"CODEX_LOGIN_STORE": "redis", "CODEX_LOGIN_ISSUER": "http://example.com"}
    with running_broker(home, issuer) as (path, _):
        result = run_in_process("token", "--broker", str(path), env=clean_env(sandbox, **unrelated))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{stored(home)['tokens']['access_token']}\n"
