"""Every attrs class of the package shows itself through the one shared repr
(``domain/fields_repr.py``) or a repr of its own, never one attrs compiled for it at
import: that compiling is a third of what a class costs at start-up."""

from __future__ import annotations

import importlib
import pkgutil

import attrs

import codex_login
from codex_login.domain.fields_repr import FieldsRepr


def attrs_classes() -> list[type]:
    found = []
    for module in pkgutil.walk_packages(codex_login.__path__, "codex_login."):
        if module.name.endswith(".__main__"):  # runs the command line when imported
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == module.name:
                found.append(value)
    return found


def compiled_by_attrs(cls: type) -> bool:
    code = getattr(cls.__repr__, "__code__", None)
    return code is not None and code.co_filename.startswith("<attrs generated")


CLASSES = attrs_classes()


def test_no_attrs_class_has_a_repr_compiled_for_it() -> None:
    assert len(CLASSES) > 100  # the walk found the package's classes
    assert [cls.__qualname__ for cls in CLASSES if compiled_by_attrs(cls)] == []


def test_every_attrs_class_has_a_repr_that_shows_its_fields() -> None:
    unshown = [
        cls.__qualname__
        for cls in CLASSES
        if not issubclass(cls, FieldsRepr) and "__repr__" not in vars(cls)
    ]
    assert unshown == []
