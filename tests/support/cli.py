"""Running the installed ``codex-login`` console script in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("codex-login")


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """An environment without the caller's credentials or issuer settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEX_", "OPENAI_")) and key not in ("SSL_CERT_FILE",)
    }
    if home is not None:
        env["CODEX_HOME"] = str(home)
    env.update(extra)
    return env


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
