from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from support.secret_service import (
    UNAVAILABLE,
    SecretService,
    SecretServiceUnavailable,
    running_secret_service,
)

# The CI machine is small and shared: judge properties by examples, not by speed.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a peer test that skipped (no Codex CLI, oidc-provider or Secret Service) fails.

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
            or UNAVAILABLE in str(reason)
        )
    ):
        report.outcome = "failed"
        report.longrepr = f"CI must run every peer test, but this one skipped: {reason}"


@pytest.fixture(scope="session", autouse=True)
def child_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Child Pythons (the console script, snippets, checks) keep their compiled modules in
    one directory under the session's temp dir, instead of compiling every module of
    codex_login again at each start where PYTHONDONTWRITEBYTECODE is set (half a child's
    start-up). Only the children's environment changes: this process, the developer's
    shell and the source tree stay as they were (nothing is written beside the code)."""
    cache = tmp_path_factory.mktemp("child-bytecode")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPYCACHEPREFIX", str(cache))
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        yield cache


@pytest.fixture(scope="session")
def secret_service_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """One gnome-keyring-daemon on a private D-Bus per test session (per xdist worker)."""
    try:
        with running_secret_service(tmp_path_factory.mktemp("secret-service")) as service:
            yield service
    except SecretServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def secret_service(
    secret_service_daemon: SecretService, monkeypatch: pytest.MonkeyPatch
) -> SecretService:
    """The test's own process talks to the private Secret Service until the test ends."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service_daemon.address)
    return secret_service_daemon
