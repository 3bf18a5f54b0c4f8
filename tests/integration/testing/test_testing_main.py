"""``python -m codex_login.testing``, run as a real child process: it prints where the
fake issuer and backend listen and the environment to use them, serves until Ctrl-C
or SIGTERM, then stops cleanly (exit 0, no traceback)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from support.cli import clean_env, run_cli
from support.waiting import wait_until

READY = "# Ctrl-C stops both servers."


class Child:
    """The command, its stdout read line by line by a thread of its own."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codex_login.testing", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=cwd,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="child-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def ready(self) -> dict[str, str]:
        """Wait for the announcement; its ``export`` lines as a dict."""
        wait_until(
            lambda: READY in self.lines or self.process.poll() is not None,
            what="the announcement",
        )
        if READY not in self.lines:
            _, err = self.process.communicate(timeout=30)
            raise AssertionError(f"the command ended before it was ready: {err}")
        exports = [
            line.removeprefix("export ") for line in self.lines if line.startswith("export ")
        ]
        return dict(line.split("=", 1) for line in exports)

    def stop(self, signum: int) -> tuple[int, str]:
        """Send ``signum``; the exit code and stderr."""
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=30)
        self._reader.join(timeout=30)
        return self.process.returncode, err


@contextmanager
def running(*args: str, cwd: Path) -> Iterator[Child]:
    child = Child(*args, cwd=cwd)
    try:
        yield child
    finally:
        if child.process.poll() is None:
            child.process.kill()
            child.process.communicate()


def test_it_serves_a_signed_in_home_until_ctrl_c(tmp_path: Path) -> None:
    with running(cwd=tmp_path) as child:
        env = child.ready()
        assert set(env) == {
            "CODEX_HOME",
            "CODEX_LOGIN_ISSUER",
            "CODEX_LOGIN_CLIENT_ID",
            "OPENAI_BASE_URL",
        }
        home, backend = Path(env["CODEX_HOME"]), env["OPENAI_BASE_URL"]
        assert f"# fake issuer:  {env['CODEX_LOGIN_ISSUER']}" in child.lines
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
        assert config["openai_base_url"] == backend
        # The printed environment is enough: codex-login hands out the login's token...
        token = run_cli("token", env={**clean_env(), **env})
        assert token.returncode == 0, token.stderr
        account = json.loads((home / "auth.json").read_text())["tokens"]["account_id"]
        # ...and the backend takes it.
        headers = {"Authorization": f"Bearer {token.stdout.strip()}", "ChatGPT-Account-ID": account}
        body = {"model": "m", "input": "hi", "stream": True}
        answer = httpx.post(f"{backend}/responses", json=body, headers=headers, timeout=30)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert "event: response.completed" in answer.text
        code, err = child.stop(signal.SIGINT)
    assert (code, err) == (0, "python -m codex_login.testing: stopped\n")
    assert not home.exists()


def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    with running(cwd=tmp_path) as child:
        home = Path(child.ready()["CODEX_HOME"])
        code, err = child.stop(signal.SIGTERM)
    assert (code, "Traceback" in err) == (0, False)
    assert not home.exists()


def test_a_named_fresh_home_is_signed_in_and_kept(tmp_path: Path) -> None:
    home = tmp_path / "codex-home"
    with running("--home", str(home), cwd=tmp_path) as child:
        assert child.ready()["CODEX_HOME"] == str(home)
        code, _ = child.stop(signal.SIGINT)
    assert code == 0
    assert (home / "auth.json").is_file()


def run_to_end(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codex_login.testing", "--home", str(home)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=home.parent,
        timeout=60,
        check=False,
    )


def test_a_home_every_user_may_write_in_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "open"
    home.mkdir()
    home.chmod(0o777)
    result = run_to_end(home)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "lets every user write in it" in result.stderr
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("existing", ["auth.json", "config.toml"])
def test_a_home_in_use_is_refused_in_one_line(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("{}", encoding="utf-8")
    result = run_to_end(tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"{tmp_path / existing} exists" in result.stderr
    assert (tmp_path / existing).read_text(encoding="utf-8") == "{}"
