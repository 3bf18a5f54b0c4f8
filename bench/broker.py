"""The token broker under load: `GET /v1/token` over its Unix socket.

    python bench/broker.py [--clients 1 50 200] [--seconds 3] [--processes 30]

One `codex-login serve` (a real child process) holds a fresh ChatGPT login of the
fake issuer of tests/support, so no refresh happens while it is measured. For each
number of clients N, N asyncio workers share an aiohttp UnixConnector (keep-alive
connections, at most N) and ask for a token back to back for --seconds, after a
warm-up. The table shows requests/s, the latency each client saw (p50, p99), the
errors (a status other than 200, or an exception), and the time the broker itself
spent per request, read from its access log (the middleware's timing: the part the
broker can make faster; the client-side figure also holds the queueing of N
clients on 2 shared CPUs and aiohttp's client).

The baseline, measured in the same run: one `codex-login token` process per token,
--processes of them one after another, reading the store itself (what a sandbox
does without a broker) and asking the broker (`token --broker PATH`); per-call
latency from start to exit.

Targets, printed beside the numbers: p50 < 1 ms and p99 < 5 ms with 200 clients,
0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.broker import ServedBroker, start_broker
from support.cli import CLI, clean_env
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import issuer_env, write_login

WARM_UP_SECONDS = 0.5
ELAPSED = re.compile(r" GET /v1/token 200 ([0-9.]+)ms$")
TARGET_P50_MS = 1.0
TARGET_P99_MS = 5.0


@attrs.define
class Row:
    name: str
    clients: int
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_p50_ms: float | None = None
    server_p99_ms: float | None = None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def hammer(socket_path: Path, clients: int, seconds: float) -> tuple[list[float], int]:
    """Latencies (seconds) of the requests that ended in the measured window, and errors."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.UnixConnector(path=str(socket_path), limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        measure_from = loop.time() + WARM_UP_SECONDS
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors
            while (now := loop.time()) < stop_at:
                started = time.perf_counter()
                try:
                    async with session.get("http://broker/v1/token") as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, OSError):
                    ok = False
                took = time.perf_counter() - started
                if now >= measure_from:
                    if ok:
                        latencies.append(took)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors


def server_times(broker: ServedBroker, since: int) -> list[float]:
    """The broker's own milliseconds per GET /v1/token, from its access-log lines."""
    found = (ELAPSED.search(line) for line in broker.lines()[since:])
    return [float(match.group(1)) for match in found if match]


def measure_broker(broker: ServedBroker, clients: int, seconds: float) -> Row:
    if broker.socket is None:
        raise RuntimeError("the broker listens on no Unix socket")
    since = len(broker.lines())
    latencies, errors = asyncio.run(hammer(broker.socket, clients, seconds))
    time.sleep(0.2)  # let the stderr reader catch up with the access log
    spent = server_times(broker, since)
    row = Row(
        "broker, keep-alive",
        clients,
        len(latencies),
        len(latencies) / seconds,
        percentile(latencies, 0.50) * 1000 if latencies else float("nan"),
        percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
        errors,
    )
    if spent:
        row.server_p50_ms = percentile(spent, 0.50)
        row.server_p99_ms = percentile(spent, 0.99)
    return row


def measure_processes(name: str, args: list[str], env: dict[str, str], count: int) -> Row:
    """``count`` runs of ``codex-login ARGS``, one after another; per-call latency."""
    latencies: list[float] = []
    errors = 0
    for _ in range(count):
        started = time.perf_counter()
        result = subprocess.run(
            [str(CLI), *args], env=env, capture_output=True, timeout=60, check=False
        )
        latencies.append(time.perf_counter() - started)
        errors += result.returncode != 0
    total = sum(latencies)
    return Row(
        name,
        1,
        count,
        count / total,
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        errors,
    )


def print_table(rows: list[Row]) -> None:
    print(
        f"{'run':<26} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'broker p50':>10} {'broker p99':>10}"
    )
    for row in rows:
        server = (
            f"{row.server_p50_ms:>10.2f} {row.server_p99_ms:>10.2f}"
            if row.server_p50_ms is not None and row.server_p99_ms is not None
            else f"{'-':>10} {'-':>10}"
        )
        print(
            f"{row.name:<26} {row.clients:>7} {row.requests:>8} {row.per_second:>8.0f} "
            f"{row.p50_ms:>8.2f} {row.p99_ms:>8.2f} {row.errors:>6} {server}"
        )


def print_targets(rows: list[Row]) -> None:
    at_200 = [row for row in rows if row.name.startswith("broker") and row.clients == 200]
    print(
        f"targets with 200 clients: p50 < {TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms, "
        "0 errors"
    )
    for row in at_200:
        verdict = (
            "met"
            if row.p50_ms < TARGET_P50_MS and row.p99_ms < TARGET_P99_MS and row.errors == 0
            else "NOT met"
        )
        print(f"  client-side: p50 {row.p50_ms:.2f} ms, p99 {row.p99_ms:.2f} ms: {verdict}")
        if row.server_p50_ms is not None and row.server_p99_ms is not None:
            inside = row.server_p50_ms < TARGET_P50_MS and row.server_p99_ms < TARGET_P99_MS
            print(
                f"  inside the broker: p50 {row.server_p50_ms:.2f} ms, "
                f"p99 {row.server_p99_ms:.2f} ms: {'met' if inside else 'NOT met'}"
            )
    print(
        "(with N clients asking back to back, a client waits about N / (req/s) seconds: "
        "the queue, not the broker's work, is most of the client-side figure)"
    )


def run(clients: list[int], seconds: float, processes: int, root: Path) -> list[Row]:
    home = root / "codex"
    home.mkdir(mode=0o700)
    rows: list[Row] = []
    with running_issuer(FakeIssuer()) as issuer:
        write_login(
            home, issuer.new_refresh_token(), expires_in=timedelta(days=1), issuer=issuer.url
        )
        env = issuer_env(home, issuer)
        broker = start_broker(home, env=env)
        try:
            if broker.socket is None:
                raise RuntimeError("the broker listens on no Unix socket")
            for count in clients:
                rows.append(measure_broker(broker, count, seconds))
            rows.append(measure_processes("token process (store)", ["token"], env, processes))
            sandbox = clean_env(None)
            rows.append(
                measure_processes(
                    "token --broker process",
                    ["token", "--broker", str(broker.socket)],
                    sandbox,
                    processes,
                )
            )
        finally:
            broker.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        rows = run(args.clients, args.seconds, args.processes, Path(root))
    print_table(rows)
    print(
        f"({os.cpu_count()} CPUs; broker rows: {args.seconds:g} s each after "
        f"{WARM_UP_SECONDS:g} s of warm-up; process rows: {args.processes} runs one after "
        "another, latency = start to exit)"
    )
    print_targets(rows)


if __name__ == "__main__":
    main()
