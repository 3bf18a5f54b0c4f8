"""The broker's metrics: what each observer call counts, in the Prometheus text format,
in a registry of its own; and the observer that counts nothing, without the extra."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from codex_login.entrypoints.metrics import Metrics, status_class
from codex_login.entrypoints.observer import MISSING, NoMetrics, load_metrics

PREFIX = "codex_login_broker"


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_the_proxy_observer_counts_requests_by_client_and_status_class() -> None:
    metrics = Metrics()
    metrics.forwarded("sandbox-a", 200, 0.02)
    metrics.forwarded("sandbox-a", 201, 0.03)
    metrics.forwarded("sandbox-a", 429, 0.5)
    metrics.forwarded("uid=1000", 502, 2.0)
    found = samples(metrics)
    requests = f"{PREFIX}_proxied_requests_total"
    assert found[requests, (("client", "sandbox-a"), ("status_class", "2xx"))] == 2
    assert found[requests, (("client", "sandbox-a"), ("status_class", "4xx"))] == 1
    assert found[requests, (("client", "uid=1000"), ("status_class", "5xx"))] == 1
    assert found[f"{PREFIX}_upstream_seconds_count", ()] == 4
    assert found[f"{PREFIX}_upstream_seconds_sum", ()] == pytest.approx(2.55)
    assert found[f"{PREFIX}_upstream_seconds_bucket", (("le", "0.025"),)] == 1
    assert found[f"{PREFIX}_upstream_seconds_bucket", (("le", "+Inf"),)] == 4


def test_time_to_first_byte_and_streams_in_flight() -> None:
    metrics = Metrics()
    metrics.first_byte(0.004)
    metrics.first_byte(0.2)
    for _ in range(3):
        metrics.stream_opened()
    metrics.stream_closed()
    found = samples(metrics)
    assert found[f"{PREFIX}_upstream_first_byte_seconds_count", ()] == 2
    assert found[f"{PREFIX}_upstream_first_byte_seconds_bucket", (("le", "0.005"),)] == 1
    assert found[f"{PREFIX}_streams_in_flight", ()] == 2


def test_tokens_served_and_refreshes_by_outcome() -> None:
    metrics = Metrics()
    metrics.token_served()
    metrics.token_served()
    metrics.refresh("refreshed")
    metrics.refresh("current")
    metrics.refresh("current")
    metrics.refresh("failed", "session_ended")
    found = samples(metrics)
    refreshes = f"{PREFIX}_refreshes_total"
    assert found[f"{PREFIX}_tokens_served_total", ()] == 2
    assert found[refreshes, (("error", ""), ("outcome", "refreshed"))] == 1
    assert found[refreshes, (("error", ""), ("outcome", "current"))] == 2
    assert found[refreshes, (("error", "session_ended"), ("outcome", "failed"))] == 1


def test_each_metrics_has_its_own_registry_and_none_is_global() -> None:
    first, second = Metrics(), Metrics()  # a second one would clash in a shared registry
    first.token_served()
    assert samples(first)[f"{PREFIX}_tokens_served_total", ()] == 1
    assert samples(second)[f"{PREFIX}_tokens_served_total", ()] == 0
    assert REGISTRY.get_sample_value(f"{PREFIX}_tokens_served_total") is None


@pytest.mark.parametrize(
    ("status", "named"),
    [(100, "1xx"), (204, "2xx"), (304, "3xx"), (401, "4xx"), (599, "5xx"), (0, "other")],
)
def test_status_classes(status: int, named: str) -> None:
    assert status_class(status) == named


def test_with_the_extra_the_broker_loads_metrics() -> None:
    assert isinstance(load_metrics(), Metrics)


def test_without_the_extra_nothing_is_counted_and_a_scrape_names_the_extra() -> None:
    none = NoMetrics()
    none.token_served()
    none.refresh("failed", "unavailable")
    none.forwarded("sandbox-a", 200, 0.1)
    none.first_byte(0.1)
    none.stream_opened()
    none.stream_closed()
    assert not none.available
    with pytest.raises(LookupError, match=r"pip install 'codex-login\[metrics\]'"):
        none.exposition()
    assert "metrics extra" in MISSING


def test_only_a_broker_loads_prometheus_client() -> None:
    """Importing the package, the CLI or the broker module leaves it unloaded."""
    probe = (
        "import sys, codex_login, codex_login.entrypoints.console, "
        "codex_login.entrypoints.broker; "
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "False\n"
