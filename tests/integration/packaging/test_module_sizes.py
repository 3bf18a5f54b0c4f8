"""A layout a newcomer finds their way in (issue 22): the command line, the broker and
its proxy are packages of modules split by job, none over 300 lines, and their classes
are cut into parts a reader takes in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MAX_MODULE_LINES = 300
MAX_CLASS_LINES = 150
SPLIT = ["entrypoints/cli", "entrypoints/broker", "entrypoints/proxy"]


def modules_of(package: str) -> list[Path]:
    modules = sorted((ROOT / package).glob("*.py"))
    assert modules, f"{package}/ is not a package"
    return modules


@pytest.mark.parametrize("package", SPLIT)
def test_no_module_of_a_split_package_is_over_300_lines(package: str) -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in modules_of(package)}
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_LINES} == {}


@pytest.mark.parametrize(
    ("package", "central"),
    [("entrypoints/broker", "app.py:Broker"), ("entrypoints/proxy", "forward.py:Proxy")],
)
def test_no_class_of_the_broker_or_the_proxy_is_over_150_lines(package: str, central: str) -> None:
    """``Broker`` is its life cycle, with the routes, the guard and the connections'
    admission as parts in their own modules; ``Proxy`` is a request's way upstream, with
    the streaming back and its own answers beside it."""
    sizes = {
        f"{path.name}:{node.name}": (node.end_lineno or node.lineno) - node.lineno + 1
        for path in modules_of(package)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    }
    assert central in sizes
    assert {name: size for name, size in sizes.items() if size > MAX_CLASS_LINES} == {}
