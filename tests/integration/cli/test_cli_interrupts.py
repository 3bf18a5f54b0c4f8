"""Ctrl-C at any moment: one line, exit 130, nothing lost (real SIGINT, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from support.cli import CLI
from support.fake_issuer import FakeIssuer
from support.locks import lock_held_elsewhere
from support.logins import issuer_env, stored, write_login
from support.waiting import wait_until

# Signals at chosen moments, races with a refresh's answer (one test repeats it 8 times),
# the timing of a loaded interpreter: the marker's "signals", run alone in `pytest -m slow`
# (under a loaded machine's inner loop one of them lost its race). test_cli.py,
# test_cli_browser_login.py and test_issuer_binding.py keep a Ctrl-C each in the quick run.
pytestmark = pytest.mark.slow

INTERRUPTED = "Interrupted, but the refreshed tokens were saved; run the command again."


def start_token(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLI), "token"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


# -- while the modules load ------------------------------------------------------------

# The installed console script's own entry point, run as the script runs it, in a child
# that sends itself SIGINT when the named module starts to load: the moment is exact.
_LOADING = """
import os, signal, sys
from importlib.metadata import entry_points

[script] = entry_points(group="console_scripts", name="codex-login")
module, _, function = script.value.partition(":")
when = sys.argv[1]

def hook(event, args):
    if event == "import" and args[0] == when:
        os.kill(os.getpid(), signal.SIGINT)

sys.addaudithook(hook)
sys.argv = ["codex-login", "status"]
entry = __import__(module, fromlist=[function])
sys.exit(getattr(entry, function)())
"""


def _modules_loaded_by_the_command() -> list[str]:
    [script] = entry_points(group="console_scripts", name="codex-login")
    assert script.value.partition(":")[0].startswith("codex_login.entrypoints.")
    return [
        "codex_login.entrypoints.cli",
        "json",
        "codex_login.application.service",
        # After Ctrl-C is given back to Python: `status` alone loads its module's imports
        "codex_login.entrypoints.cli.shared",
    ]


@pytest.mark.parametrize("module", _modules_loaded_by_the_command())
def test_ctrl_c_while_the_command_loads_is_one_line(tmp_path: Path, module: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_")}
    env["CODEX_HOME"] = str(tmp_path / "codex")
    child = subprocess.run(
        [sys.executable, "-c", _LOADING, module],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (child.returncode, child.stderr) == (130, "Cancelled.\n")
    assert child.stdout == ""


def in_interpreter_start_up(stderr: str) -> bool:
    """A KeyboardInterrupt traceback whose every frame is the interpreter's own (frozen
    modules: site, importlib, zipimport), raised before the console script's first line."""
    frames = [line for line in stderr.splitlines() if line.lstrip().startswith("File ")]
    return (
        stderr.rstrip().endswith("KeyboardInterrupt")
        and bool(frames)
        and all('File "<frozen ' in line for line in frames)
    )


def test_ctrl_c_right_after_the_start_is_one_line_once_our_code_runs(tmp_path: Path) -> None:
    """Right after spawn, the interpreter itself may still be starting: its default
    handler ends it by the signal, or its own start-up prints the KeyboardInterrupt
    (CPython goes on after one raised while it probes the script for a zip archive,
    before any of our code runs). Once our entry runs: one line, 130, no token."""
    write_login(tmp_path, "rt-1", expires_in=timedelta(hours=1))
    before = (tmp_path / "auth.json").read_bytes()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_")}
    env["CODEX_HOME"] = str(tmp_path)
    for _ in range(5):
        child = start_token(env)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
        if child.returncode == -signal.SIGINT or in_interpreter_start_up(stderr):
            continue
        assert (child.returncode, stderr, stdout) == (130, "Cancelled.\n", "")
    assert (tmp_path / "auth.json").read_bytes() == before


# -- while blocked on a held lock ------------------------------------------------------


def interrupted_while_waiting(
    command: list[str], env: dict[str, str], lock: Path
) -> tuple[int, str, str]:
    """Run ``command`` while another process holds ``lock``, Ctrl-C it once it says it
    waits, and let the lock go only after the command ended."""
    with lock_held_elsewhere(lock):
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert child.stderr is not None
            waiting = child.stderr.readline()  # said after a second of waiting
            assert waiting.startswith(f"Waiting for {lock}"), waiting
            child.send_signal(signal.SIGINT)
            # Within a bound far below the lock's: a waiter that ignored the Ctrl-C would
            # wait out its 600 s, then do the command.
            stdout, stderr = child.communicate(timeout=60)
        except BaseException:
            child.kill()
            raise
    return child.returncode, stdout, stderr


def test_ctrl_c_while_waiting_for_the_lock_is_one_line_and_refreshes_nothing(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    tmp_path.chmod(0o700)
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
    env = {**issuer_env(tmp_path, issuer), "CODEX_LOGIN_LOCK_TIMEOUT": "600"}
    code, stdout, stderr = interrupted_while_waiting(
        [str(CLI), "token"], env, tmp_path / "auth.lock"
    )
    assert (code, stdout, stderr) == (130, "", "Cancelled.\n")
    assert issuer.posts("refresh_token") == []
    assert (tmp_path / "auth.json").read_bytes() == before
    assert issuer.refresh_token_works(stored(tmp_path)["tokens"]["refresh_token"])


def test_ctrl_c_while_logout_waits_for_the_lock_logs_nothing_out(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    tmp_path.chmod(0o700)
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(hours=1))
    env = {**issuer_env(tmp_path, issuer), "CODEX_LOGIN_LOCK_TIMEOUT": "600"}
    code, stdout, stderr = interrupted_while_waiting(
        [str(CLI), "logout"], env, tmp_path / "auth.lock"
    )
    assert (code, stdout, stderr) == (130, "", "Cancelled.\n")
    assert (tmp_path / "auth.json").read_bytes() == before
    assert [r for r in issuer.requests if r.path == "/oauth/revoke"] == []


# -- during a refresh ------------------------------------------------------------------


def test_ctrl_c_during_a_refresh_that_commits_is_one_line(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
    issuer.gates["refresh"] = gate = threading.Event()
    child = start_token(issuer_env(tmp_path, issuer))
    try:
        wait_until(lambda: len(issuer.posts("refresh_token")) == 1)
        child.send_signal(signal.SIGINT)
    finally:
        gate.set()
    stdout, stderr = child.communicate(timeout=60)
    assert (child.returncode, stdout, stderr) == (130, "", f"{INTERRUPTED}\n")
    assert issuer.refresh_token_works(stored(tmp_path)["tokens"]["refresh_token"])


def test_ctrl_c_as_a_refresh_ends_never_exits_0(tmp_path: Path, issuer: FakeIssuer) -> None:
    """SIGINT as the answer arrives, when the refresh may finish first: whatever the
    order, the Ctrl-C wins (exit 130, one line, no token printed) and the login stays."""
    for _ in range(8):
        write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
        issuer.gates["refresh"] = gate = threading.Event()
        posted = len(issuer.posts("refresh_token"))
        child = start_token(issuer_env(tmp_path, issuer))
        try:
            wait_until(lambda: len(issuer.posts("refresh_token")) == posted + 1)  # noqa: B023
        finally:
            gate.set()
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
        assert child.returncode == 130, (stdout, stderr)
        assert stdout == ""
        assert stderr in ("Cancelled.\n", f"{INTERRUPTED}\n")
        document = json.loads((tmp_path / "auth.json").read_bytes())
        assert issuer.refresh_token_works(document["tokens"]["refresh_token"])
