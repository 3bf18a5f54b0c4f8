"""Per-call cost of `AuthManager.get_token()` when auth.json has not changed.

    python bench/token_hot_path.py [--calls 100000] [--rounds 7]

The hot path is one stat of auth.json, one clock read and a comparison. The
baselines, measured in the same run, are the pieces it cannot avoid: awaiting a
coroutine that does nothing, `os.stat` of the same file and `datetime.now(UTC)`.
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

from timing import Call, fresh_login, measure

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.entrypoints.bootstrap import bootstrap


async def run(calls: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as root:
        path = fresh_login(Path(root))
        service = bootstrap(store=FileCredentialStore(Path(root)), environ={})
        manager = service.manager
        await manager.get_token()  # first call reads and parses the file

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
            "await manager.get_token()": manager.get_token,
        }
        return await measure(cases, calls, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.rounds))
    floor = results["await a no-op coroutine"] + results["await os.stat(auth.json)"]
    print(f"{'per call':<28} {'µs':>8} {'x (no-op + stat)':>17}")
    for name, seconds in results.items():
        print(f"{name:<28} {seconds * 1e6:>8.2f} {seconds / floor:>17.2f}")
    print(f"({args.calls} calls x {args.rounds} interleaved rounds; median round)")


if __name__ == "__main__":
    main()
