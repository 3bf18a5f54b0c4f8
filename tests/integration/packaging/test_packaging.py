"""What installing codex-login gives a user beside the code: the licence, the metadata,
and a pytest plugin that loads only where it is asked for."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
USES_A_FIXTURE = """
def test_uses_the_kit(codex_home):
    assert codex_home.is_dir()
"""


def run_pytest(where: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (where / "test_user.py").write_text(USES_A_FIXTURE)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options]
    return subprocess.run(
        [*command, "test_user.py"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_another_projects_pytest_session_does_not_load_the_plugin(tmp_path: Path) -> None:
    result = run_pytest(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fixture 'codex_home' not found" in result.stdout


def test_the_plugin_loads_when_asked_for_with_p(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-p", "codex_login.testing.plugin")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plugin_loads_from_a_conftest(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["codex_login.testing.plugin"]\n')
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_pytest11_entry_point_is_installed() -> None:
    entry_points = importlib.metadata.distribution("codex-login").entry_points
    assert [point.name for point in entry_points if point.group == "pytest11"] == []


def test_the_licence_the_metadata_names_is_in_the_repository() -> None:
    metadata = importlib.metadata.metadata("codex-login")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()


def test_the_metadata_has_classifiers_and_urls() -> None:
    metadata = importlib.metadata.metadata("codex-login")
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    assert metadata.get_all("Project-URL")


def test_the_developer_extra_is_dev_and_the_kit_extra_is_testing() -> None:
    extras = importlib.metadata.metadata("codex-login").get_all("Provides-Extra") or []
    assert {"dev", "docs", "testing"} <= set(extras)
    assert "test" not in extras
