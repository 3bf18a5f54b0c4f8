"""What signing httpx requests with `CodexHttpxAuth` costs, and `CodexAuth.get_token()`.

    python bench/http_auth.py [--requests 400] [--calls 100000] [--rounds 7]

1. One GET to a loopback aiohttp server (a child process, so it does not share
   our GIL) over a kept-alive connection: a client with
   `auth=CodexHttpxAuth(...)` against the same client type sending a fixed
   Authorization header, one request of each in turn; median and p90 per request.
2. Per-call cost of the token itself with auth.json unchanged: the blocking
   `CodexAuth.get_token()`, `await AsyncCodexAuth.get_token()` and, as the floor,
   a bare `os.stat` of auth.json. The blocking twin should stay within 1.5x of
   the async one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from timing import fresh_login

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth

FIXED = {"Authorization": "Bearer fixed-token-for-the-baseline"}
SERVER = """
import asyncio
from aiohttp import web

async def ok(request):
    return web.Response(text="ok")

async def main():
    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextmanager
def loopback_server() -> Iterator[str]:
    """A trivial HTTP server in a child process; its URL."""
    child = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = child.stdout.readline().strip() if child.stdout else ""
        if not port:
            raise RuntimeError("the loopback server did not start")
        yield f"http://127.0.0.1:{port}/"
    finally:
        child.terminate()
        child.wait(timeout=30)


# -- 1. requests through the auth flow --------------------------------------------------


Samples = dict[str, list[float]]


def sync_requests(auth: CodexAuth, url: str, count: int) -> Samples:
    samples: Samples = {"sync  fixed header": [], "sync  CodexHttpxAuth": []}
    with (
        httpx.Client(headers=FIXED, trust_env=False) as fixed,
        httpx.Client(auth=CodexHttpxAuth(auth), trust_env=False) as signed,
    ):
        clients = dict(zip(samples, (fixed, signed), strict=True))
        for client in clients.values():  # open the kept-alive connection first
            client.get(url).raise_for_status()
        for _ in range(count):  # in turn, so noise hits both alike
            for name, client in clients.items():
                start = time.perf_counter()
                client.get(url)
                samples[name].append(time.perf_counter() - start)
    return samples


async def async_requests(auth: AsyncCodexAuth, url: str, count: int) -> Samples:
    samples: Samples = {"async fixed header": [], "async CodexHttpxAuth": []}
    async with (
        httpx.AsyncClient(headers=FIXED, trust_env=False) as fixed,
        httpx.AsyncClient(auth=CodexHttpxAuth(auth), trust_env=False) as signed,
    ):
        clients = dict(zip(samples, (fixed, signed), strict=True))
        for client in clients.values():
            (await client.get(url)).raise_for_status()
        for _ in range(count):
            for name, client in clients.items():
                start = time.perf_counter()
                await client.get(url)
                samples[name].append(time.perf_counter() - start)
    return samples


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def print_requests(samples: Samples, count: int) -> None:
    print(f"{'one httpx GET, loopback, keep-alive':<36} {'median µs':>10} {'p90 µs':>9} {'x':>6}")
    for name, values in samples.items():
        baseline = samples[name.replace("CodexHttpxAuth", "fixed header")]
        ratio = statistics.median(values) / statistics.median(baseline)
        print(
            f"{name:<36} {statistics.median(values) * 1e6:>10.1f} "
            f"{p90(values) * 1e6:>9.1f} {ratio:>6.2f}"
        )
    print(f"({count} requests per case, in turn; x = median / median with a fixed header)")


# -- 2. the token ---------------------------------------------------------------------


def per_call(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


async def per_await(call: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def token_costs(
    path: Path, auth: CodexAuth, twin: AsyncCodexAuth, calls: int, rounds: int
) -> dict[str, float]:
    samples: Samples = {"os.stat(auth.json)": [], "CodexAuth.get_token()": []}
    samples["await AsyncCodexAuth.get_token()"] = []
    for _ in range(rounds):  # interleaved, so noise hits every case alike
        samples["os.stat(auth.json)"].append(per_call(lambda: os.stat(path), calls))
        samples["CodexAuth.get_token()"].append(per_call(auth.get_token, calls))
        samples["await AsyncCodexAuth.get_token()"].append(await per_await(twin.get_token, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def print_tokens(costs: dict[str, float], calls: int, rounds: int) -> None:
    floor = costs["os.stat(auth.json)"]
    print(f"{'per call, auth.json unchanged':<36} {'µs':>10} {'x stat':>9}")
    for name, seconds in costs.items():
        print(f"{name:<36} {seconds * 1e6:>10.2f} {seconds / floor:>9.2f}")
    ratio = costs["CodexAuth.get_token()"] / costs["await AsyncCodexAuth.get_token()"]
    print(f"blocking / async get_token(): {ratio:.2f} (target: at most 1.50)")
    print(f"({calls} calls x {rounds} interleaved rounds; median round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root, loopback_server() as url:
        path = fresh_login(Path(root))
        with CodexAuth(store=FileCredentialStore(Path(root)), environ={}) as auth:
            twin = AsyncCodexAuth(service=auth.service)
            samples = sync_requests(auth, url, args.requests)
            samples |= asyncio.run(async_requests(twin, url, args.requests))
            costs = asyncio.run(token_costs(path, auth, twin, args.calls, args.rounds))
    print_requests(samples, args.requests)
    print()
    print_tokens(costs, args.calls, args.rounds)


if __name__ == "__main__":
    main()
