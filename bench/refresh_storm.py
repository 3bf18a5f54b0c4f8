"""A refresh storm: N `codex-login token` processes at once on one expired login.

    python bench/refresh_storm.py [--sizes 1 4 16 64] [--with-codex]

For each N, auth.json holds an expired access token and a refresh token of the
fake issuer of tests/support, whose refresh tokens are single-use: reusing one
revokes the whole grant. All N children start at once; the table shows how many
refresh requests the issuer received, how many children failed, the wall time
until all had exited, and whether the stored refresh token still works.

The baseline, measured just before each storm: N `codex-login status` processes
at once on the same kind of file (no network, no lock), so the ratio is the cost
of the coordinated refresh over the bare start-up of N processes.

With --with-codex and the Codex CLI installed (.ci/install-codex.sh), a mixed row
per N >= 4: N/4 Codex app-servers forcing a refresh beside 3N/4 of ours, with
the refresh requests that came from Codex counted apart (its body has a
`refresh_reason` field; ours has not). Failures then count both.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from interop.peers.codex_peer import (
    AppServerError,
    LoopbackServer,
    chatgpt_backend_routes,
    find_codex,
    refresh_with_app_server,
)
from support.cli import run_all
from support.fake_issuer import FakeIssuer, Recorded, running_issuer
from support.logins import issuer_env, stored, write_login

EXPIRED = timedelta(minutes=-1)
HANGUPS = ("BrokenPipeError", "ConnectionResetError")


@attrs.define
class Row:
    name: str
    size: int
    refreshes: int
    failures: int
    seconds: float
    alive: bool
    from_codex: int | None = None


def run_timed(command: str, count: int, env: dict[str, str]) -> tuple[float, list[str]]:
    """Start ``count`` children at once; wall seconds and the stderr of each failure."""
    start = time.perf_counter()
    results = run_all(command, count=count, env=env)
    seconds = time.perf_counter() - start
    failures = [r.stderr.strip() or f"exit {r.returncode}" for r in results if r.returncode]
    return seconds, failures


def expired_login(home: Path, issuer: FakeIssuer) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    write_login(home, issuer.new_refresh_token(), expires_in=EXPIRED)


def alive(home: Path, issuer: FakeIssuer) -> bool:
    return issuer.refresh_token_works(stored(home)["tokens"]["refresh_token"])


def baseline(size: int, root: Path) -> tuple[float, list[str]]:
    """N `codex-login status` at once on an expired login: start-up, no network."""
    home = root / f"status-{size}"
    with running_issuer(FakeIssuer()) as issuer:
        expired_login(home, issuer)
        return run_timed("status", size, issuer_env(home, issuer))


def storm(size: int, root: Path) -> tuple[Row, list[str]]:
    home = root / f"storm-{size}"
    with running_issuer(FakeIssuer()) as issuer:
        expired_login(home, issuer)
        seconds, failures = run_timed("token", size, issuer_env(home, issuer))
        refreshes = len(issuer.posts("refresh_token"))
        row = Row("codex-login token", size, refreshes, len(failures), seconds, alive(home, issuer))
    return row, failures


def from_codex(request: Recorded) -> bool:
    return isinstance(request.json, dict) and "refresh_reason" in request.json


def codex_refresher(
    codex: Path, home: Path, issuer: FakeIssuer, base_url: str, errors: list[str]
) -> Callable[[], None]:
    def refresh() -> None:
        try:
            refresh_with_app_server(
                codex, home, refresh_url=f"{issuer.url}/oauth/token", base_url=base_url
            )
        except AppServerError as exc:
            errors.append(str(exc).splitlines()[0])

    return refresh


def mixed(size: int, root: Path, codex: Path) -> tuple[Row, list[str]]:
    """N/4 Codex app-servers and 3N/4 `codex-login token` at once."""
    home = root / f"mixed-{size}" / "codex"
    with (
        running_issuer(FakeIssuer()) as issuer,
        LoopbackServer(chatgpt_backend_routes("acc-123")) as backend,
    ):
        expired_login(home, issuer)
        errors: list[str] = []
        refresh = codex_refresher(codex, home, issuer, backend.url, errors)
        threads = [threading.Thread(target=refresh) for _ in range(size // 4)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        _, failures = run_timed("token", size - len(threads), issuer_env(home, issuer))
        for thread in threads:
            thread.join(timeout=240)
        seconds = time.perf_counter() - start
        posts = issuer.posts("refresh_token")
        codex_posts = sum(from_codex(post) for post in posts)
        failed = failures + [f"codex: {error}" for error in errors]
        survived = alive(home, issuer)
    row = Row("mixed, 1/4 Codex", size, len(posts), len(failed), seconds, survived, codex_posts)
    return row, failed


def print_table(rows: list[Row], baselines: dict[int, float]) -> None:
    print(
        f"{'run':<18} {'N':>3} {'refreshes':>9} {'from Codex':>10} {'failures':>8} "
        f"{'wall s':>7} {'status s':>8} {'x status':>8} {'token alive':>11}"
    )
    for row in rows:
        base = baselines[row.size]
        codex = "-" if row.from_codex is None else str(row.from_codex)
        print(
            f"{row.name:<18} {row.size:>3} {row.refreshes:>9} {codex:>10} {row.failures:>8} "
            f"{row.seconds:>7.2f} {base:>8.2f} {row.seconds / base:>8.2f} "
            f"{'yes' if row.alive else 'NO':>11}"
        )


def print_stub_log(text: str) -> None:
    """The backend stub's tracebacks: a count if Codex merely hung up, else all of it."""
    errors = [line for line in text.splitlines() if re.match(r"\w+(Error|Exception)\b", line)]
    if any(not line.startswith(HANGUPS) for line in errors):
        print(text, file=sys.stderr)
    elif errors:
        print(f"(backend stub: {len(errors)} replies cut off by exiting Codex app-servers)")


@attrs.define
class Results:
    rows: list[Row] = attrs.Factory(list)
    baselines: dict[int, float] = attrs.Factory(dict)
    messages: set[str] = attrs.Factory(set)
    stub_log: io.StringIO = attrs.Factory(io.StringIO)


def measure(sizes: list[int], codex: Path | None, root: Path) -> Results:
    results = Results()
    for size in sizes:
        results.baselines[size], failed = baseline(size, root)
        results.messages.update(f"status: {message}" for message in failed)
        row, failed = storm(size, root)
        results.rows.append(row)
        results.messages.update(failed)
        if codex is not None and size >= 4:
            with contextlib.redirect_stderr(results.stub_log):
                row, failed = mixed(size, root, codex)
            results.rows.append(row)
            results.messages.update(failed)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--with-codex", action="store_true")
    args = parser.parse_args()
    codex = find_codex() if args.with_codex else None
    if args.with_codex and codex is None:
        print("Codex CLI not installed (.ci/install-codex.sh): no mixed rows", file=sys.stderr)
    with tempfile.TemporaryDirectory() as root:
        results = measure(args.sizes, codex, Path(root))
    print_table(results.rows, results.baselines)
    print(f"(status s: N `codex-login status` at once, just before; {os.cpu_count()} CPUs)")
    print_stub_log(results.stub_log.getvalue())
    for message in sorted(results.messages):
        print(f"failure: {message.splitlines()[-1]}")


if __name__ == "__main__":
    main()
