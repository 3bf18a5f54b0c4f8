"""What the per-call benchmarks share: timing interleaved cases, and a fresh login on disk."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.records import chatgpt_document
from support.tokens import access_token

Call = Callable[[], Awaitable[object]]


async def per_call(call: Call, calls: int) -> float:
    """Seconds per call of `call`, over `calls` sequential awaits."""
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def measure(cases: dict[str, Call], calls: int, rounds: int) -> dict[str, float]:
    """The median seconds per call of each case."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved, so noise hits every case alike
        for name, call in cases.items():
            samples[name].append(await per_call(call, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def fresh_document() -> bytes:
    """A ChatGPT auth.json whose access token stays fresh for the whole run."""
    document = chatgpt_document()
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) + timedelta(days=365))
    return json.dumps(document, indent=2).encode()


def fresh_login(home: Path) -> Path:
    """``fresh_document()`` written as ``home``/auth.json."""
    path = home / "auth.json"
    path.write_bytes(fresh_document())
    return path
