from __future__ import annotations

import compileall
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from support.other_users import CLOSED
from support.secret_service import (
    UNAVAILABLE,
    SecretService,
    SecretServiceUnavailable,
    running_secret_service,
)


def _compiled_once_into_build() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set (this project's shared machine), every pytest
    process rewrote each test module's asserts and compiled each module it imports anew,
    about 3.5 s of every worker's collection. Compiled files go under ``build/pycache``
    instead (a build artefact, git-ignored, never beside the sources), checked against
    each source as usual. Elsewhere Python's own choice stands."""
    if sys.dont_write_bytecode and not sys.pycache_prefix:
        sys.pycache_prefix = str(Path(__file__).resolve().parent.parent / "build" / "pycache")
        sys.dont_write_bytecode = False


_compiled_once_into_build()

# The CI machine is small and shared: judge properties by examples, not by speed.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a peer test that skipped (no Codex CLI, oidc-provider or Secret Service) fails,
    and so does one played by another user who cannot start the CLI (a checkout closed
    to other users).

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
            or CLOSED in str(reason)
        )
    ):
        report.outcome = "failed"
        report.longrepr = f"CI must run every peer test, but this one skipped: {reason}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty private CODEX_HOME (a test module may define its own)."""
    path = tmp_path / "codex"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="session", autouse=True)
def installed_bytecode() -> Path | None:
    """The installed package's modules, compiled once beside their links in ``build/``.

    Where PYTHONDONTWRITEBYTECODE is set (this project's shared machine), nothing ever
    wrote them: every child Python the tests start (the console script, snippets,
    whole-tree checks) and every pytest process compiled each codex_login module it
    imports again. The strict editable install's ``build/`` tree holds links to the
    sources in directories of its own, a build artefact, as site-packages is for a
    regular install (where pip compiled them): the compiled files go there, never beside
    the sources. Python checks each against its source's size and mtime, so an edit is
    never missed. A regular install (no links) is left as it is; the variable keeps its
    meaning for everything else."""
    spec = importlib.util.find_spec("codex_login")
    if spec is None or spec.origin is None or not Path(spec.origin).is_symlink():
        return None
    package = Path(spec.origin).parent
    # Beside the links, where the children look (they have no pycache prefix).
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        compileall.compile_dir(package, quiet=1)
    finally:
        sys.pycache_prefix = prefix
    return package


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
