"""Time from the login callback arriving to auth.json being committed, in one run.

    python bench/login_commit.py [--logins 50]

Each login is the real one, in-process: `bootstrap()` with a FileCredentialStore
in a fresh CODEX_HOME and the HTTP token endpoint, `AuthService.login_in_browser()` on port
0, and the fake issuer of tests/support serving from its own thread. The browser
is scripted: GET the authorize URL without following its 302, time the GET of
the callback URL until our server's 302 arrives, then GET /success to end the
login. That 302 is sent only after the code exchange, the API-key exchange and
the atomic commit of auth.json are done.

The baselines are interleaved with the logins: one POST to the fake issuer's
token endpoint that fails at once (unsupported grant_type, 400), from a new
client session as the token endpoint makes, and one `FileCredentialStore.save()`
of the record a login wrote, into a fresh directory. The last row is the login
divided by one round trip plus one commit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from codex_login.domain.issuer import DEFAULT_CLIENT_ID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint
from codex_login.application.signin import LoginOutcome
from codex_login.domain.record import CredentialRecord
from codex_login.entrypoints.bootstrap import bootstrap
from support.fake_issuer import FakeIssuer, running_issuer

LOGIN = "callback -> commit (one login)"
ROUND_TRIP = "token-endpoint round trip (400)"
COMMIT = "file commit (store.save)"


async def get_status(url: str) -> int:
    """GET ``url`` from a new session, without following redirects."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False) as response,
    ):
        await response.read()
        return response.status


async def started(task: asyncio.Task[LoginOutcome], announced: asyncio.Queue[str]) -> str:
    """The authorization URL, or the reason the login could not start."""
    getter = asyncio.ensure_future(announced.get())
    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    if not getter.done():
        getter.cancel()
        await task
    return getter.result()


async def callback_path(authorize_url: str) -> str:
    """What the issuer redirects the browser to: our callback, with code and state."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(authorize_url, allow_redirects=False) as response,
    ):
        location = response.headers["Location"]
    return "/" + location.split("/", 3)[3]


async def one_login(issuer: FakeIssuer, home: Path) -> float:
    """Seconds from sending the callback to its 302 (auth.json committed)."""
    endpoint = HttpTokenEndpoint()
    service = bootstrap(
        store=FileCredentialStore(home),
        endpoint=endpoint,
        issuer=issuer.url,
        client_id=DEFAULT_CLIENT_ID,
        environ={},
    )
    announced: asyncio.Queue[str] = asyncio.Queue()
    ports: list[int] = []

    def announce(url: str, port: int) -> None:
        ports.append(port)
        announced.put_nowait(url)

    task = asyncio.create_task(service.login_in_browser(announce=announce, port=0, timeout=30))
    try:
        path = await callback_path(await started(task, announced))
        base = f"http://127.0.0.1:{ports[0]}"
        start = time.perf_counter()
        status = await get_status(base + path)
        elapsed = time.perf_counter() - start
        if status != 302:
            raise RuntimeError(f"the callback answered {status}, not 302")
        await get_status(base + "/success")
        await asyncio.wait_for(task, 30)
        return elapsed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def round_trip(issuer: FakeIssuer) -> float:
    """Seconds for one POST to the token endpoint that it refuses at once."""
    start = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{issuer.url}/oauth/token", data={"grant_type": "none"}) as response,
    ):
        await response.read()
    elapsed = time.perf_counter() - start
    if response.status != 400:
        raise RuntimeError(f"the token endpoint answered {response.status}, not 400")
    return elapsed


def commit(record: CredentialRecord, home: Path) -> float:
    """Seconds for one save of ``record`` into a new CODEX_HOME."""
    store = FileCredentialStore(home)
    start = time.perf_counter()
    store.save(record)
    return time.perf_counter() - start


def written(home: Path) -> CredentialRecord:
    loaded = FileCredentialStore(home).load()
    if loaded is None:
        raise RuntimeError(f"the login wrote no {home / 'auth.json'}")
    return loaded.record


async def measure(issuer: FakeIssuer, root: Path, logins: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {LOGIN: [], ROUND_TRIP: [], COMMIT: []}
    for index in range(logins + 1):  # the first round warms up and is dropped
        home = root / f"login-{index}"
        login = await one_login(issuer, home)
        trip = await round_trip(issuer)
        save = commit(written(home), root / f"save-{index}")
        if index:
            samples[LOGIN].append(login)
            samples[ROUND_TRIP].append(trip)
            samples[COMMIT].append(save)
    return samples


def report(samples: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    p95s = {name: statistics.quantiles(values, n=20)[-1] for name, values in samples.items()}
    print(f"{'what':<34} {'median ms':>10} {'p95 ms':>8}")
    for name in samples:
        print(f"{name:<34} {medians[name] * 1000:>10.2f} {p95s[name] * 1000:>8.2f}")
    ratio = medians[LOGIN] / (medians[ROUND_TRIP] + medians[COMMIT])
    ratio_p95 = p95s[LOGIN] / (p95s[ROUND_TRIP] + p95s[COMMIT])
    print(f"{'login / (round trip + commit)':<34} {ratio:>9.2f}x {ratio_p95:>7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    if args.logins < 2:
        parser.error("--logins must be at least 2")
    with running_issuer(FakeIssuer()) as issuer, tempfile.TemporaryDirectory() as root:
        samples = asyncio.run(measure(issuer, Path(root), args.logins))
    report(samples)
    print(
        f"({args.logins} logins, each beside one round trip and one commit; {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
