"""Per-call cost of `AuthService.get_token()` when auth.json has not changed.

    python bench/token_hot_path.py [--calls 100000] [--rounds 7]
    python bench/token_hot_path.py --keyring [--calls 100] [--rounds 7]

The hot path is one stat of auth.json, one clock read and a comparison. The
baselines, measured in the same run, are the pieces it cannot avoid: awaiting a
coroutine that does nothing, `os.stat` of the same file and `datetime.now(UTC)`.

``--keyring`` starts its own Secret Service (gnome-keyring-daemon on a private D-Bus,
as the tests do) and times the keyring store's hot path (one stat of the commit
marker, the digest from memory) against the same store made to read the entry on
every call (``cache_max_age=0``: a D-Bus read and a sha256 per call, as before the
cache), the file store's, and one D-Bus read of the entry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from timing import Call, fresh_document, fresh_login, measure

from codex_login.adapters import auth_json
from codex_login.adapters.file_store import COMMIT_LOCK, FileCredentialStore
from codex_login.adapters.keyring_store import KeyringCredentialStore
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.entrypoints.bootstrap import bootstrap
from support.secret_service import running_secret_service


async def run(calls: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as root:
        path = fresh_login(Path(root))
        service = bootstrap(store=FileCredentialStore(Path(root)), environ={})
        await service.get_token()  # first call reads and parses the file

        async def nothing() -> None:
            return None

        async def stat() -> object:
            return os.stat(path)

        async def clock() -> object:
            return datetime.now(UTC)

        cases: dict[str, Call] = {
            "await a no-op coroutine": nothing,
            "await os.stat(auth.json)": stat,
            "await datetime.now(UTC)": clock,
            "await service.get_token()": service.get_token,
        }
        return await measure(cases, calls, rounds)


def keyring_run(calls: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as root, running_secret_service(Path(root) / "ss") as ss:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = ss.address  # this process only, till exit
        home = Path(root) / "codex"
        record = auth_json.decode(fresh_document(), "bench").record
        cached = KeyringCredentialStore(home, backend=CodexSecretService())
        cached.save(record)
        every_call = KeyringCredentialStore(home, backend=CodexSecretService(), cache_max_age=0)
        file_home = Path(root) / "file"
        file_home.mkdir()
        fresh_login(file_home)
        return asyncio.run(keyring_cases(cached, every_call, file_home, calls, rounds))


async def keyring_cases(
    cached: KeyringCredentialStore,
    every_call: KeyringCredentialStore,
    file_home: Path,
    calls: int,
    rounds: int,
) -> dict[str, float]:
    marker = cached.codex_home / COMMIT_LOCK
    services = {
        "keyring, from memory": bootstrap(store=cached, environ={}),
        "keyring, read every call": bootstrap(store=every_call, environ={}),
        "file store": bootstrap(store=FileCredentialStore(file_home), environ={}),
    }
    for service in services.values():
        await service.get_token()  # the first call reads and parses

    async def nothing() -> None:
        return None

    async def stat() -> object:
        return os.stat(marker)

    async def entry() -> object:
        return cached.load()

    cases: dict[str, Call] = {
        "await a no-op coroutine": nothing,
        "await os.stat(auth.json.lock)": stat,
        "await one keyring load()": entry,
        **{f"get_token(): {name}": service.get_token for name, service in services.items()},
    }
    return await measure(cases, calls, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keyring", action="store_true")
    args = parser.parse_args()
    if args.keyring:
        calls = args.calls or 100
        results = keyring_run(calls, args.rounds)
        stat_name = "await os.stat(auth.json.lock)"
    else:
        calls = args.calls or 100_000
        results = asyncio.run(run(calls, args.rounds))
        stat_name = "await os.stat(auth.json)"
    floor = results["await a no-op coroutine"] + results[stat_name]
    width = max(map(len, results))
    print(f"{'per call':<{width}} {'µs':>10} {'x (no-op + stat)':>17}")
    for name, seconds in results.items():
        print(f"{name:<{width}} {seconds * 1e6:>10.2f} {seconds / floor:>17.2f}")
    print(f"({calls} calls x {args.rounds} interleaved rounds; median round)")


if __name__ == "__main__":
    main()
