"""Every attrs class of the package shows itself through the one shared repr
(``domain/fields_repr.py``), never one attrs compiled for it at import: that compiling
is a third of what a class costs at start-up."""

from __future__ import annotations

import functools
import importlib
import pkgutil

import attrs

import codex_login
from codex_login.domain.fields_repr import FieldsRepr

# A class that needs a repr of its own writes it and is named here, with the reason.
OWN_REPR: frozenset[str] = frozenset()


@functools.cache
def attrs_classes() -> tuple[type, ...]:
    """The package's attrs classes, each module imported (when the tests run, not while
    pytest collects)."""
    found = []
    for module in pkgutil.walk_packages(codex_login.__path__, "codex_login."):
        if module.name.endswith(".__main__"):  # runs the command line when imported
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == module.name:
                found.append(value)
    return tuple(found)


def repr_of(cls: type) -> object:
    return cls.__repr__


def test_the_walk_finds_the_package_s_classes() -> None:
    names = {cls.__qualname__ for cls in attrs_classes()}
    assert {"TokenData", "Settings", "AuthService"} <= names
    assert len(names) > 100


def test_every_attrs_class_shows_itself_through_the_shared_repr() -> None:
    shown_otherwise = [
        cls.__qualname__
        for cls in attrs_classes()
        if repr_of(cls) is not FieldsRepr.__repr__ and cls.__qualname__ not in OWN_REPR
    ]
    assert shown_otherwise == []
