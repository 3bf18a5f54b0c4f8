"""Running the installed ``codex-login`` console script in a child process."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import FakeIO

CLI = Path(sys.executable).with_name("codex-login")
# The authorization URL `login` prints on a line of its own (loopback test issuers).
AUTHORIZE_URL = re.compile(r"^(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)$", re.MULTILINE)
# The last line `login --no-browser` prints before it waits, when it reads pasted addresses.
PASTE_PROMPT = "If the browser cannot reach this machine, paste the address"
DEVICE_PAGE = re.compile(r"open this page on any device:\s+(\S+)")
DEVICE_CODE = re.compile(r"and enter this code:\s+(\S+)")


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """An environment without the caller's credentials or issuer settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEX_", "OPENAI_")) and key not in ("SSL_CERT_FILE",)
    }
    if home is not None:
        env["CODEX_HOME"] = str(home)
    if os.geteuid() != 0:
        # The CLI makes itself non-dumpable; only root may then look into its /proc
        # files, as the tests that wait on its system calls or count its descriptors do.
        # As root (CI's usual case) the CLI runs as shipped.
        env["CODEX_LOGIN_DUMPABLE"] = "1"
    env.update(extra)
    return env


def run_python(
    script: str, *, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``script`` run by this interpreter in a process of its own (no pytest hooks in it),
    in an environment without the caller's credentials unless ``env`` is given."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env if env is not None else clean_env(None),
    )


def run_cli(
    *args: str,
    home: Path | None = None,
    stdin: str | bytes | None = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        [str(CLI), *args],
        input=data,
        capture_output=True,
        env=env if env is not None else clean_env(home),
        timeout=timeout,
        check=False,
    )
    completed = subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def run_in_process(
    *args: str,
    home: Path | None = None,
    stdin: str | bytes | None = "",
    env: dict[str, str] | None = None,
    io: FakeIO | None = None,
) -> subprocess.CompletedProcess[str]:
    """``run_cli``'s result, from ``main()`` called in this process with a fake IO: for
    what needs no process of its own (not signals, closed pipes, start-up imports, or
    the console script itself). The environment is the child's would be, for the call.
    ``io`` lets another thread watch what the command prints while it runs."""
    from codex_login.entrypoints.cli import main  # noqa: PLC0415
    from codex_login.entrypoints.cli.io import FakeIO  # noqa: PLC0415

    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    # Dumpable: the test process stays as it was (the CLI would make itself not dumpable).
    environ = {**(env if env is not None else clean_env(home)), "CODEX_LOGIN_DUMPABLE": "1"}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    io = io or FakeIO(data)
    try:
        with _logging_kept():  # -v sets logging up for the process: for this call only
            code = main(list(args), io)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    completed = subprocess.CompletedProcess(["codex-login", *args], code, io.out(), io.err())
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def browser_login_in_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`login --no-browser --port 0 ...` in this process (``run_in_process``) while a
    thread plays the browser: it opens the printed URL as soon as it appears."""
    import threading  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    from codex_login.entrypoints.cli.io import FakeIO  # noqa: PLC0415
    from support.waiting import wait_until  # noqa: PLC0415

    io = FakeIO()

    def browse() -> None:
        wait_until(lambda: AUTHORIZE_URL.search(io.err()), what="the authorization URL")
        found = AUTHORIZE_URL.search(io.err())
        assert found is not None
        try:
            with urllib.request.urlopen(found.group(1), timeout=30) as page:
                page.read()
        except urllib.error.HTTPError as refused:  # a refused login's page: a 4xx/5xx
            refused.read()

    browser = threading.Thread(target=browse, name="test-browser", daemon=True)
    browser.start()
    try:
        return run_in_process("login", "--no-browser", "--port", "0", *args, env=env, io=io)
    finally:
        browser.join(timeout=30)


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("codex_login")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


def run_all(*args: str, count: int, env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start ``count`` copies of the command at once and wait for all of them."""
    return run_each(*args, envs=[env] * count)


def run_each(
    *args: str, envs: Sequence[dict[str, str]], timeout: float = 240
) -> list[subprocess.CompletedProcess[str]]:
    """Start one copy of the command per environment, all at once, and wait for all.

    Each child may have its own CODEX_HOME (machines that share no disk). Children
    still running at the deadline are killed by their PID; none may print a traceback.
    """
    children = [
        subprocess.Popen(
            [str(CLI), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for env in envs
    ]
    deadline = time.monotonic() + timeout
    try:
        results = []
        for child in children:
            out, err = child.communicate(timeout=max(0.1, deadline - time.monotonic()))
            assert "Traceback" not in err, err
            results.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
        return results
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()


def start_until(
    args: list[str],
    env: dict[str, str],
    done: Callable[[str, str], bool],
    *,
    stdin: int = subprocess.DEVNULL,
) -> tuple[subprocess.Popen[str], str]:
    """Start the command and read its stderr until ``done(line, everything so far)``.

    For commands that print something a test must act on (a URL, a code) and go on.
    ``stdin=subprocess.PIPE`` lets the test type into it (``child.stdin``).
    """
    child = subprocess.Popen(
        [str(CLI), *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stderr is not None
    seen = ""
    for line in child.stderr:
        seen += line
        if done(line, seen):
            return child, seen
    child.wait(timeout=30)
    raise AssertionError(f"the command ended before printing what was expected:\n{seen}")


def start_browser_login(
    args: list[str], env: dict[str, str], *, stdin: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], str]:
    """Start `login --no-browser --port 0 ...`; return it and the URL it printed.

    With ``stdin=subprocess.PIPE`` it reads on until the prompt for a pasted address,
    so the next line on stderr is whatever the login says next.
    """
    command = ["login", "--no-browser", "--port", "0", *args]

    def done(line: str, seen: str) -> bool:
        if stdin == subprocess.PIPE:
            return line.startswith(PASTE_PROMPT)
        return AUTHORIZE_URL.search(seen) is not None

    child, seen = start_until(command, env, done, stdin=stdin)
    found = AUTHORIZE_URL.search(seen)
    assert found is not None
    return child, found.group(1)


def start_device_login(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start `login --device-auth`; return it, the page, the code and all it printed."""
    child, seen = start_until(
        ["login", "--device-auth"], env, lambda line, _: line.startswith("Waiting for approval")
    )
    page, code = DEVICE_PAGE.search(seen), DEVICE_CODE.search(seen)
    assert page is not None
    assert code is not None
    return child, page.group(1), code.group(1), seen
