"""One ``repr`` for every attrs class of codex-login, read from its fields when called.

attrs writes each class its own ``__repr__`` as source and compiles it when the class
is created: about a third of what creating a class costs, paid at every start-up for
every class on the way (``bench/cli_startup.py --instructions``: 28M of the 405M
instructions ``codex-login status`` ran; bench/README.md). So each class is declared
``@attrs.frozen(repr=False)`` (or ``define``) and inherits ``FieldsRepr``, whose one
method gives the same text attrs would: ``Name(field=value, ...)``, fields with
``repr=False`` left out (how secrets stay hidden), a ``repr=callable`` field shown
through its callable, and ``...`` for an object already being shown further up.
A test keeps every attrs class of the package on it.
"""

from __future__ import annotations

import reprlib
from typing import Any, cast

import attrs


class FieldsRepr:
    """The base of codex-login's attrs classes: attrs' own repr, without compiling one per
    class."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = cast("type[attrs.AttrsInstance]", type(self))
        shown = ", ".join(
            f"{field.name}={_show(field, self)}"
            for field in attrs.fields(cls)
            if field.repr is not False
        )
        return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({shown})"


def _show(field: attrs.Attribute[Any], instance: object) -> str:
    # A field left out of __init__ may be unset; attrs shows NOTHING for it, as here.
    if field.init:
        value = getattr(instance, field.name)
    else:
        value = getattr(instance, field.name, attrs.NOTHING)
    formatter = field.repr
    return f"{formatter(value)}" if callable(formatter) else repr(value)
