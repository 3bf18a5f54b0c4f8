"""Lazy module attributes for the public modules (``codex_login``, ``.aio``, ``.stores``,
``.policy``): a name loads its module when first used, so ``import codex_login`` stays
cheap, and ``help()``/``pydoc`` can browse a base install without the extras.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

EXTRA_MODULES = {
    "httpx": ("httpx",),
    "requests": ("requests",),
    "redis": ("redis",),
    "openai": ("openai", "httpx"),  # the SDK, signed through an httpx client
}
"""Each extra (``codex-login[...]``) and the top-level modules it installs."""


class MissingExtra(ImportError):
    """A name of the public API needs an extra that is not installed."""


def _missing(extra: str) -> str | None:
    """The first module of ``extra`` that is not installed, or None."""
    import importlib.util  # noqa: PLC0415  (the CLI loads this package and never needs it)

    for module in EXTRA_MODULES[extra]:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):  # a blocked (None) or broken entry in sys.modules
            return module
    return None


def _installed(extra: str) -> bool:
    return _missing(extra) is None


def _load(name: str, where: str, extra: str | None) -> Any:
    missing = None if extra is None else _missing(extra)
    if missing is not None:
        raise MissingExtra(
            f"{name} needs the {extra} extra: pip install 'codex-login[{extra}]' "
            f"(from a checkout: pip install '.[{extra}]')",
            name=missing,
        )
    where, _, attribute = where.partition(":")
    return getattr(importlib.import_module(where), attribute or name)


def exports(
    module: str,
    where: Mapping[str, str],
    *,
    extras: Mapping[str, str] | None = None,
    moved: Mapping[str, str] | None = None,
    computed: Mapping[str, Callable[[], Any]] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``module``.

    ``where`` maps each public name to the module defining it (``module:other`` when
    it is defined under another name); ``extras`` maps a name
    to the extra it needs; ``moved`` maps a deprecated name to the public module that
    now holds it (or the module defining it), found there with a DeprecationWarning;
    ``computed`` maps a name to a function computing its value.
    """
    extras = extras or {}
    moved = moved or {}
    computed = computed or {}

    def __getattr__(name: str) -> Any:  # noqa: N807
        if name in where:
            value = _load(name, where[name], extras.get(name))
        elif name in computed:
            value = computed[name]()
        elif name in moved:
            warnings.warn(
                f"{module}.{name} moved: import it from {moved[name]}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(moved[name]), name)
        else:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        setattr(sys.modules[module], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        # What pydoc walks: a name whose extra is missing is left out, so browsing a
        # base install works (getattr would raise MissingExtra, which pydoc does not skip).
        names = set(vars(sys.modules[module])) | {
            name for name in where if name not in extras or _installed(extras[name])
        }
        return sorted(names)

    return __getattr__, __dir__
