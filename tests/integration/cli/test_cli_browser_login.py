"""`codex-login login` in a real process: the URL on stderr, a browser, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import stat
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import CLI, clean_env, start_browser_login
from support.fake_issuer import FakeIssuer
from support.locks import let_go, lock_held_elsewhere
from support.other_users import AS_NOBODY, need_root_and_setpriv


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


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


def open_in_a_browser_that_may_be_left(url: str) -> None:
    """The user's browser; the login stopped with Ctrl-C may close the page's server."""
    with contextlib.suppress(urllib.error.URLError, ConnectionError):
        urllib.request.urlopen(url, timeout=60).read()


def test_ctrl_c_while_the_login_waits_to_commit_saves_it_and_says_so(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """The issuer's new tokens are in hand: given up, they would be lost unrevoked. The
    commit waits for the lock another process holds, and the line says the truth."""
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    with lock_held_elsewhere(home / "auth.lock") as holder:
        child, url = start_login(home, issuer)
        browser = threading.Thread(target=open_in_a_browser_that_may_be_left, args=(url,))
        browser.start()  # the page would answer once the login is committed
        try:
            assert child.stderr is not None
            said = [child.stderr.readline()]  # the URL's advice first, then the wait's notice
            while said[-1] and not said[-1].startswith("Waiting for"):
                said.append(child.stderr.readline())
            assert said[-1].startswith(f"Waiting for {home / 'auth.lock'}"), said
            child.send_signal(signal.SIGINT)
            let_go(holder)
            _, stderr = child.communicate(timeout=60)
        finally:
            browser.join(timeout=60)
    assert child.returncode == 0, stderr
    assert "The sign-in had been saved when the login was stopped; you are logged in." in stderr
    assert json.loads((home / "auth.json").read_bytes())["auth_mode"] == "chatgpt"


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


# Run as nobody: listen on [::1]:PORT only, until stdin closes.
SQUATTER = r"""
import socket, sys
squatter = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
squatter.bind(("::1", int(sys.argv[1])))
squatter.listen(1)
print("ready", flush=True)
sys.stdin.read()
"""


def test_another_user_on_ipv6_loopback_makes_the_login_refuse_in_one_line(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """Listening on 127.0.0.1 alone would let the browser hand the code to that user."""
    need_root_and_setpriv()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    squatter = subprocess.Popen(
        [*AS_NOBODY, "/usr/bin/python3", "-c", SQUATTER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        assert squatter.stdout is not None
        assert squatter.stdout.readline() == "ready\n"
        result = subprocess.run(
            [str(CLI), "login", "--no-browser", "--port", str(port), "--issuer", issuer.url],
            capture_output=True,
            text=True,
            env=clean_env(tmp_path, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID),
            timeout=60,
            check=False,
        )
    finally:
        squatter.communicate(timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"Error: cannot listen on localhost port {port}: [::1]:{port} is in use by another "
            "program; free it or choose another port with --port"
        )
    )
    assert "/oauth/authorize" not in result.stderr  # no sign-in address was handed out
    assert not (tmp_path / "auth.json").exists()


def test_a_newer_login_of_the_same_user_takes_over_the_port_and_the_claims_go(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = clean_env(
        tmp_path / "codex", XDG_RUNTIME_DIR=str(runtime), CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID
    )
    args = ["--issuer", issuer.url, "--port", str(port)]
    stale, _ = start_browser_login(args, env)
    claim = runtime / f"login-callback-{port}.json"
    assert stat.S_IMODE(claim.stat().st_mode) == 0o600
    fresh, url = start_browser_login(args, env)
    _, stale_err = stale.communicate(timeout=30)
    with urllib.request.urlopen(url, timeout=30) as page:
        assert b"Signed in to Codex" in page.read()
    _, fresh_err = fresh.communicate(timeout=30)
    assert stale.returncode == 1
    assert "another login took over the callback port" in stale_err.splitlines()[-1]
    assert fresh.returncode == 0, fresh_err
    assert list(runtime.iterdir()) == []  # each login removed its claim
