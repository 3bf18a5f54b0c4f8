"""Name the test that leaves a socket or file unclosed: ``pytest -p support.leaks``.

An unclosed object caught in a reference cycle is freed whenever the garbage collector
next runs, so its ``ResourceWarning`` (an error in this suite) fails whichever test is
running then. With this plugin the collector runs after every test, and a test that
left something unclosed fails its teardown naming it, and where the object was made:
the plugin traces allocations in the test processes (not in their children, which the
environment variable ``PYTHONTRACEMALLOC`` would slow down too). A collection per test
makes the quick run about ten times slower: a tool for hunting a leak, not for every run.
"""

from __future__ import annotations

import gc
import tracemalloc
import warnings
from collections.abc import Generator

import pytest

FRAMES = 25  # enough to get from the socket module out to the code that made it


def pytest_configure(config: pytest.Config) -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(FRAMES)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield  # the test's fixtures are torn down first: what they close is not a leak
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = [each for each in caught if issubclass(each.category, ResourceWarning)]
    if leaks:
        said = "\n".join(_described(each) for each in leaks)
        pytest.fail(f"{item.nodeid} left unclosed:\n{said}", pytrace=False)


def _described(warning: warnings.WarningMessage) -> str:
    made = tracemalloc.get_object_traceback(warning.source) if warning.source else None
    where = "".join(made.format(most_recent_first=True)) if made else ""
    return f"  {warning.message}\n{where}".rstrip()
