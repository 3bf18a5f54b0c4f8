"""Cold-start wall time of `codex-login status` and `token`, beside `python -c pass`, in one run.

    python bench/cli_startup.py [--runs 40] [--against VENV] [--instructions]

Runs are interleaved so that machine noise hits every command alike. Two more
baselines show what the design card's packages cost on their own: importing
attrs, and attrs with cattrs. When the Codex CLI binary is installed (see
.ci/install-codex.sh), its `login status` on the same files is measured too. With
``--against VENV`` the `codex-login` of another install (an older release, say) runs
in the same rounds, so a before/after comparison shares the machine's noise.

``--instructions`` counts the instructions each command executes instead (one run
each under valgrind's callgrind, hash seed fixed): the same count on every run, so a
change of a few per cent shows even on a busy machine where wall times cannot tell it.
Instructions are not time: Python's own start-up spends more of its time outside
them (loading, page faults) than an import-heavy command does, so the ratios run
higher than the wall-time ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.records import chatgpt_document

CLI = str(Path(sys.executable).with_name("codex-login"))
API_KEY_FILE = '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456789"\n}'


def timed(command: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start


def instructions(command: Sequence[str], env: dict[str, str]) -> int:
    """Instructions ``command`` executes (callgrind's count; deterministic with a fixed seed)."""
    seeded = {**env, "PYTHONHASHSEED": "0"}
    timed(command, seeded)  # compiled files written, page cache warm
    found = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        env=seeded,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    for line in found.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"valgrind printed no instruction count for {command[0]}")


def codex_binary() -> str | None:
    found = os.environ.get("CODEX_BIN")
    if found:
        return found
    cache = Path(os.environ.get("CODEX_LOGIN_PEERS", Path.home() / ".cache/codex-login-peers"))
    matches = sorted(cache.glob("codex/node_modules/@openai/codex-*/vendor/*/bin/codex"))
    return str(matches[0]) if matches else None


def homes(root: Path) -> dict[str, Path]:
    made = {}
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)  # fresh: `token` needs no refresh
    for name, content in (
        ("API-key file", API_KEY_FILE),
        ("ChatGPT file", json.dumps(chatgpt_document(expires_at=in_an_hour), indent=2)),
    ):
        home = root / name.split()[0]
        home.mkdir()
        (home / "auth.json").write_text(content)
        made[name] = home
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--against", type=Path, help="another virtual environment to compare")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (valgrind) instead of time"
    )
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind: apt-get install valgrind")
    other = str(args.against / "bin" / "codex-login") if args.against else None
    with tempfile.TemporaryDirectory() as root:
        cases: dict[str, tuple[list[str], dict[str, str]]] = {}
        base_env = {"PATH": os.environ.get("PATH", ""), "HOME": root}
        cases["python -c pass"] = ([sys.executable, "-c", "pass"], base_env)
        cases["python -c 'import attrs'"] = ([sys.executable, "-c", "import attrs"], base_env)
        cases["python -c 'import attrs, cattrs'"] = (
            [sys.executable, "-c", "import attrs, cattrs"],
            base_env,
        )
        codex = codex_binary()
        for name, home in homes(Path(root)).items():
            env = {**base_env, "CODEX_HOME": str(home)}
            cases[f"codex-login status, {name}"] = ([CLI, "status"], env)
            cases[f"codex-login token, {name}"] = ([CLI, "token"], env)
            if other:
                cases[f"  --against: status, {name}"] = ([other, "status"], env)
                cases[f"  --against: token, {name}"] = ([other, "token"], env)
            if codex and not args.instructions:  # a native binary: time tells
                cases[f"codex login status, {name}"] = ([codex, "login", "status"], env)
        if args.instructions:
            counted = {name: instructions(*case) for name, case in cases.items()}
            print_counts(counted)
            return
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for command, env in cases.values():
            timed(command, env)  # warm the page cache
        for _ in range(args.runs):
            for name, (command, env) in cases.items():
                samples[name].append(timed(command, env))
    baseline = statistics.median(samples["python -c pass"])
    print(f"{'command':<42} {'median ms':>10} {'p90 ms':>8} {'x python':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<42} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {median / baseline:>9.2f}")
    print(f"({args.runs} interleaved runs each; {os.cpu_count()} CPUs)")


def print_counts(counted: dict[str, int]) -> None:
    baseline = counted["python -c pass"]
    print(f"{'command':<42} {'instructions':>14} {'x python':>9}")
    for name, count in counted.items():
        print(f"{name:<42} {count / 1e6:>13.1f}M {count / baseline:>9.2f}")
    print("(one run each under valgrind --tool=callgrind, PYTHONHASHSEED=0)")


if __name__ == "__main__":
    main()
