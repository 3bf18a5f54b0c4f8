"""`codex-login login` in a real process: the URL on stderr, a browser, Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import CLI, clean_env, start_browser_login
from support.fake_issuer import FakeIssuer, running_issuer


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer(plan="plus")) as running:
        yield running


def start_login(home: Path, issuer: FakeIssuer, *extra: str) -> tuple[subprocess.Popen[str], str]:
    # The fake issuer stands in for OpenAI's; any issuer but the default needs its client id.
    env = clean_env(home, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID)
    return start_browser_login(["--issuer", issuer.url, *extra], env)


def test_login_prints_the_url_and_finishes_when_the_browser_returns(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    with urllib.request.urlopen(url, timeout=30) as page:  # the user's browser
        assert b"Signed in to Codex" in page.read()
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    assert stdout == ""
    assert stderr.strip().endswith(
        "Successfully logged in\nLogged in as user@example.com (ChatGPT Plus)"
    )
    assert "Traceback" not in stderr
    document = json.loads((home / "auth.json").read_bytes())
    assert document["auth_mode"] == "chatgpt"
    assert document["tokens"]["account_id"] == "acc-123"


def test_ctrl_c_exits_130_releases_the_port_and_writes_nothing(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    port = int(re.search(r"localhost%3A(\d+)", url).group(1))  # type: ignore[union-attr]
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130
    assert "Traceback" not in stderr
    assert not (home / "auth.json").exists()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_timeout_is_a_clear_error(tmp_path: Path, issuer: FakeIssuer) -> None:
    child, _ = start_login(tmp_path, issuer, "--timeout", "0.5")
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        "Error: no sign-in arrived within 0.5 s; run `codex-login login` again"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issuer", "http://auth.example.com"], "must be an https:// URL"),
        (["--issuer", "ftp://x"], "must be an https:// URL"),
        (["--port", "70000"], "not between 0 and 65535"),
        (["--timeout", "-1"], "more than 0 seconds"),
    ],
)
def test_bad_login_options_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [str(CLI), "login", "--no-browser", *args],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_requests_leave_no_traces_on_the_terminal(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    port = int(re.search(r"localhost%3A(\d+)", url).group(1))  # type: ignore[union-attr]
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"GET /auth/callback?code=" + b"x" * 20_000 + b" HTTP/1.1\r\n\r\n")
        assert raw.recv(100).split(b" ")[1] == b"400"
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert raw.recv(100).split(b" ")[1] == b"400"
    with urllib.request.urlopen(url, timeout=30) as page:
        page.read()
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 0
    assert "Traceback" not in stderr
    assert "xxxxxxxx" not in stderr
    assert "Successfully logged in" in stderr.splitlines()


def test_login_v_names_the_plan_and_answers_yes_or_no(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer, "-v")
    with urllib.request.urlopen(url, timeout=30) as page:
        page.read()
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    assert stderr.splitlines()[-4:] == [
        "Successfully logged in",
        "Logged in as user@example.com (ChatGPT Plus)",
        f"  credentials: {home / 'auth.json'}",
        "  API key stored: yes",
    ]
