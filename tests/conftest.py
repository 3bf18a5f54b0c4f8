from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# The CI machine is small and shared: judge properties by examples, not by speed.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a peer test that skipped (no Codex CLI, no oidc-provider) is a failure.

    On a developer's machine it skips with its printed reason; CI installs every
    peer itself, so a skip there means the install is broken.
    """
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    if (
        os.environ.get("CI")
        and report.skipped
        and (
            "interop" in item.path.parts
            or "chromium is not installed" in str(reason)
            or "redis-server is not installed" in str(reason)
        )
    ):
        report.outcome = "failed"
        report.longrepr = f"CI must run every peer test, but this one skipped: {reason}"
