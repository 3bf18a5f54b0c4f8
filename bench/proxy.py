"""The credential-injecting proxy against a direct call to the same upstream, in one run.

    python bench/proxy.py [--clients 1 50] [--seconds 2] [--rounds 3] [--profile FILE]
                          [--against VENV]

The upstream is a loopback Responses API stand-in in a child process of its own: each
``POST /v1/responses`` gets a ``text/event-stream`` of the three events of a finished
turn, written at once. One ``codex-login serve --tcp PORT --secret-file F --upstream
<it>`` (a real child process) holds a fresh ChatGPT login of the fake issuer of
tests/support, so no refresh happens while it is measured.

For each number of clients N, N asyncio workers share an aiohttp connector (keep-alive,
at most N connections) and post back to back for --seconds after a warm-up, once
straight to the upstream ("direct") and once through the proxy's ``/openai/v1/``, the
two in turn for --rounds rounds so that the machine's noise hits both alike. Per
request: the time to the first SSE event and to the end of the stream. An error is an
exception, a status other than 200, or a stream without ``response.completed``.

The table shows each path's requests/s, latency p50/p99 and first-event p50, then what
the proxy adds: latency p50/p99, first event p50, and the throughput ratio. Targets
(issue 24), printed beside the numbers, not asserted: at most 0.5 ms added p50 with 1
client, at least 0.5 x the direct throughput with 50 clients, 0 errors.

``--against VENV`` also runs the ``codex-login serve`` of another virtual environment (a
regular install of main, say) as a second proxy, measured in the same rounds: rows
"against" beside "proxy", so that a change to the proxy is judged in one run.

``--profile FILE`` runs the proxy under cProfile (slower: the figures then describe the
profiled proxy) and prints its most expensive functions on the request path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.broker import READY, free_port
from support.cli import CLI
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import issuer_env, write_login
from support.waiting import wait_until

WARM_UP_SECONDS = 0.5
TARGET_ADDED_P50_MS = 0.5  # with 1 client
TARGET_RATIO = 0.5  # of the direct throughput, with 50 clients
BODY = b'{"model":"some-model","input":"say hi","stream":true}'
COMPLETED = b"event: response.completed"

# The upstream, run as `python -c UPSTREAM`: prints its port, serves until stdin closes.
UPSTREAM = r"""
import asyncio, json, sys
from aiohttp import web

def sse(event):
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}]}
EVENTS = [
    sse({"type": "response.created", "sequence_number": 0,
         "response": {"id": "resp_1", "object": "response", "status": "in_progress"}}),
    sse({"type": "response.output_item.done", "sequence_number": 1, "output_index": 0,
         "item": item}),
    sse({"type": "response.completed", "sequence_number": 2,
         "response": {"id": "resp_1", "object": "response", "status": "completed",
                      "model": "some-model", "output": [item]}}),
]

async def responses(request):
    await request.read()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in EVENTS:
        await response.write(event)
    await response.write_eof()
    return response

async def main():
    app = web.Application()
    app.router.add_post("/v1/responses", responses)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()

asyncio.run(main())
"""


@attrs.define
class Samples:
    """What one path saw over all rounds with one number of clients."""

    latencies: list[float] = attrs.Factory(list)
    first_events: list[float] = attrs.Factory(list)
    errors: int = 0
    seconds: float = 0.0
    completed: int = 0  # warm-up included, to share out the CPU time
    cpu: dict[str, float] = attrs.Factory(dict)  # CPU seconds by process, warm-up included

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")

    def cpu_ms(self, process: str) -> float:
        """That process's CPU milliseconds per completed request (nan: not measured)."""
        if process not in self.cpu or not self.completed:
            return float("nan")
        return 1000 * self.cpu[process] / self.completed


@attrs.frozen
class Target:
    """Where one path's requests go, and the PID of the proxy on the way (None: direct)."""

    name: str
    url: str
    headers: dict[str, str]
    proxy_pid: int | None = None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``, in ms (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def one_request(session: aiohttp.ClientSession, target: Target) -> tuple[float, float]:
    """(seconds to the first event, seconds to the end); ValueError when it failed."""
    started = time.perf_counter()
    async with session.post(target.url, data=BODY, headers=target.headers) as response:
        first = await response.content.readuntil(b"\n\n")
        first_event = time.perf_counter() - started
        rest = await response.read()
        if response.status != 200 or COMPLETED not in first + rest:
            raise ValueError(f"status {response.status}")
    return first_event, time.perf_counter() - started


async def hammer(target: Target, clients: int, seconds: float, into: Samples) -> None:
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        measure_from = loop.time() + WARM_UP_SECONDS
        stop_at = measure_from + seconds

        async def worker() -> None:
            while (now := loop.time()) < stop_at:
                try:
                    first_event, took = await one_request(session, target)
                except (aiohttp.ClientError, OSError, ValueError):
                    if now >= measure_from:
                        into.errors += 1
                    continue
                into.completed += 1
                if now >= measure_from:
                    into.first_events.append(first_event)
                    into.latencies.append(took)

        await asyncio.gather(*(worker() for _ in range(clients)))
    into.seconds += seconds


@contextmanager
def upstream() -> Iterator[tuple[str, int]]:
    """The upstream child process; yields its base URL (``http://127.0.0.1:PORT/v1``) and
    its PID."""
    child = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    if child.stdout is None or child.stdin is None:
        raise RuntimeError("the upstream has no pipes")
    try:
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1", child.pid
    finally:
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@attrs.frozen
class Proxy:
    """A running ``codex-login serve`` child, its access log going to a file."""

    process: subprocess.Popen[bytes]
    url: str
    key: str  # the client key (its --secret-file)
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def running_proxy(
    root: Path, upstream_url: str, env: dict[str, str], profile: Path | None, cli: Path = CLI
) -> Iterator[Proxy]:
    """``codex-login serve`` forwarding to ``upstream_url`` until the block ends (SIGTERM).

    Its stderr (one access-log line per request) goes to a file, not to a pipe this
    process would have to read while it measures.
    """
    key = secrets.token_urlsafe(32)
    port = free_port()
    secret_file = root / f"proxy-{port}.secret"
    secret_file.write_text(key)
    secret_file.chmod(0o600)
    log = root / f"proxy-{port}.log"
    argv = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else []
    args = ["--tcp", str(port), "--secret-file", str(secret_file), "--upstream", upstream_url]
    args += ["--socket", str(root / f"proxy-{port}.sock")]  # two proxies may share the home
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*argv, str(cli), "serve", *args], env=env, stdin=subprocess.DEVNULL, stderr=stderr
        )
    try:
        wait_until(
            lambda: READY in log.read_text() or process.poll() is not None,
            timeout=30,
            what="the proxy to serve",
        )
        if process.poll() is not None:
            raise RuntimeError(f"the proxy did not start:\n{log.read_text()}")
        yield Proxy(process, f"http://127.0.0.1:{port}", key, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    paths: tuple[Target, ...], clients: int, args: argparse.Namespace, pids: dict[str, int]
) -> tuple[Samples, ...]:
    """Each path in turn for ``args.rounds`` rounds; each process's CPU time too (the
    client, the upstream, and the path's proxy)."""
    samples = tuple(Samples() for _ in paths)
    for _ in range(args.rounds):
        for target, into in zip(paths, samples, strict=True):
            pids = {**pids, "proxy": target.proxy_pid} if target.proxy_pid else pids
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            asyncio.run(hammer(target, clients, args.seconds, into))
            for name, pid in pids.items():
                into.cpu[name] = into.cpu.get(name, 0.0) + cpu_seconds(pid) - before[name]
    return samples


def print_table(results: dict[int, tuple[Samples, ...]], names: tuple[str, ...]) -> None:
    print(
        f"{'run':<8} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'first p50':>9} {'errors':>6} {'cpu ms/request: client':>22} {'proxy':>6} "
        f"{'upstream':>8}"
    )
    for clients, pair in results.items():
        for name, samples in zip(names, pair, strict=True):
            print(
                f"{name:<8} {clients:>7} {len(samples.latencies):>8} {samples.per_second:>8.0f} "
                f"{percentile(samples.latencies, 0.5):>8.2f} "
                f"{percentile(samples.latencies, 0.99):>8.2f} "
                f"{percentile(samples.first_events, 0.5):>9.2f} {samples.errors:>6} "
                f"{samples.cpu_ms('client'):>22.2f} {cpu_or_dash(samples, name):>6} "
                f"{samples.cpu_ms('upstream'):>8.2f}"
            )
    print()
    print(
        f"{'added by the proxy':<20} {'run':<8} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'first p50':>9} {'x direct req/s':>14}"
    )
    for name, index in proxied_runs(names):
        for clients, pair in results.items():
            direct, proxied = pair[0], pair[index]
            print(
                f"{'':<20} {name:<8} {clients:>7} {added(direct, proxied, 'latencies', 0.5):>8.2f} "
                f"{added(direct, proxied, 'latencies', 0.99):>8.2f} "
                f"{added(direct, proxied, 'first_events', 0.5):>9.2f} "
                f"{proxied.per_second / direct.per_second:>14.2f}"
            )


def proxied_runs(names: tuple[str, ...]) -> list[tuple[str, int]]:
    """The proxied paths' names and their index in a result (0 is direct)."""
    return [(name, index) for index, name in enumerate(names) if index]


def cpu_or_dash(samples: Samples, path: str) -> str:
    """The proxy's CPU per request on the proxied path; "-" on the direct one."""
    return f"{samples.cpu_ms('proxy'):.2f}" if path != "direct" else "-"


def added(direct: Samples, proxied: Samples, what: str, fraction: float) -> float:
    return percentile(getattr(proxied, what), fraction) - percentile(
        getattr(direct, what), fraction
    )


def print_targets(results: dict[int, tuple[Samples, ...]], name: str, index: int) -> None:
    """The targets, judged for the proxied path at ``index`` (its row name ``name``)."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if 1 in results:
        extra = added(results[1][0], results[1][index], "latencies", 0.5)
        print(
            f"{name}: target: at most {TARGET_ADDED_P50_MS:g} ms added p50 with 1 client: "
            f"{extra:.2f} ms, {verdict(extra <= TARGET_ADDED_P50_MS)}"
        )
    if 50 in results:
        direct, proxied = results[50][0], results[50][index]
        ratio = proxied.per_second / direct.per_second
        print(
            f"{name}: target: at least {TARGET_RATIO:g} x the direct throughput with 50 "
            f"clients: {ratio:.2f}, {verdict(ratio >= TARGET_RATIO)}"
        )
    errors = sum(pair[0].errors + pair[index].errors for pair in results.values())
    print(f"{name}: target: 0 errors: {errors}, {verdict(errors == 0)}")


# Where the proxy's own time goes, by what runs it (first match wins); epoll's wait
# (idle) and start-up (imports) are left out.
PROFILE_GROUPS = (
    ("idle: waiting in epoll", ("'poll' of 'select.epoll'",)),
    ("start-up: imports", ("importlib", "marshal", "builtins.compile", "_imp.", "__build_class__")),
    ("socket send (loopback, wakes the peer)", ("'send' of '_socket.socket'",)),
    ("socket recv", ("'recv' of '_socket.socket'", "'recv_into' of '_socket")),
    ("codex_login (the broker, the proxy, the login)", ("codex_login",)),
    ("aiohttp server side", ("aiohttp/web_",)),
    ("aiohttp client side", ("aiohttp/client", "aiohttp/connector")),
    ("aiohttp parsers, writers, streams", ("aiohttp/", "multidict", "yarl")),
    ("asyncio event loop", ("asyncio/", "selectors", "_contextvars")),
)


def profile_breakdown(path: Path, requests: int) -> list[tuple[str, float]]:
    """Own time per request (ms) of each group of PROFILE_GROUPS, and "other"."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        where = f"{filename} {function}"
        group = next(
            (name for name, needles in PROFILE_GROUPS if any(n in where for n in needles)),
            "other (stdlib, builtins)",
        )
        totals[group] = totals.get(group, 0.0) + own
    return [(name, 1000 * seconds / requests) for name, seconds in totals.items()]


def print_profile(path: Path, requests: int) -> None:
    print(f"\nthe proxy under cProfile ({path}): own time per proxied request, ms")
    rows = profile_breakdown(path, requests)
    for name, per_request in sorted(rows, key=lambda row: -row[1]):
        if not name.startswith(("idle", "start-up")):
            print(f"  {name:<48} {per_request:>6.3f}")
    print("top 15 functions by own time:")
    pstats.Stats(str(path)).strip_dirs().sort_stats("tottime").print_stats(15)


def run(args: argparse.Namespace, root: Path) -> dict[int, tuple[Samples, ...]]:
    home = root / "codex"
    home.mkdir(mode=0o700)
    with (
        running_issuer(FakeIssuer()) as issuer,
        upstream() as (upstream_url, upstream_pid),
        ExitStack() as proxies,
    ):
        write_login(
            home, issuer.new_refresh_token(), expires_in=timedelta(days=1), issuer=issuer.url
        )
        env = issuer_env(home, issuer)
        paths = [Target("direct", f"{upstream_url}/responses", {"Authorization": "Bearer direct"})]
        clis = {"proxy": CLI} | (
            {"against": args.against / "bin" / "codex-login"} if args.against else {}
        )
        for name, cli in clis.items():
            profile = args.profile if name == "proxy" else None
            proxy = proxies.enter_context(running_proxy(root, upstream_url, env, profile, cli))
            url, key = f"{proxy.url}/openai/v1/responses", {"Authorization": f"Bearer {proxy.key}"}
            paths.append(Target(name, url, key, proxy.pid))
        pids = {"client": os.getpid(), "upstream": upstream_pid}
        return {clients: measure(tuple(paths), clients, args, pids) for clients in args.clients}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="run the proxy under cProfile into FILE")
    parser.add_argument(
        "--against", type=Path, help="another virtual environment's proxy to compare"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        results = run(args, Path(root))
    names = ("direct", "proxy", *(("against",) if args.against else ()))
    print_table(results, names)
    print(
        f"({os.cpu_count()} CPUs shared by the client, the proxy and the upstream; "
        f"{args.rounds} rounds of {args.seconds:g} s per path after {WARM_UP_SECONDS:g} s of "
        "warm-up each, direct and proxy in turn)"
    )
    for name, index in proxied_runs(names):
        print_targets(results, name, index)
    if args.profile:
        print_profile(args.profile, sum(pair[1].completed for pair in results.values()))


if __name__ == "__main__":
    main()
