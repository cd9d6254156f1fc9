"""Public names imported when first used, so a command loads only what it uses (issue 21).

A package re-exports its API as before (``from onshore import Classifier`` works, and so does
``onshore.Classifier``) but imports each name's module on first use. A function named like a
submodule it was imported after (``onshore.classify``, ``onshore.app.scan``) keeps its name
when the submodule is imported, as it did when the package imported everything at once.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


class _Package(types.ModuleType):
    _keep: frozenset[str]

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_keep", ()):
            return  # the import system binds the submodule; the exported function keeps the name
        super().__setattr__(name, value)


def export_lazily(
    package: str, exports: Mapping[str, str], keep: frozenset[str] = frozenset()
) -> None:
    """Make each ``name -> module`` of ``exports`` an attribute of ``package`` on first use;
    other attributes that name a submodule import it, as ``import package.sub`` would.
    ``keep``: exported functions that keep their name when the submodule of that name is
    imported (as when the package imported the submodule, then the function, at once)."""
    module = sys.modules[package]
    namespace = vars(module)

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is not None:
            value = getattr(importlib.import_module(source), name)
            namespace[name] = value
            return value
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    namespace["_keep"] = keep
    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    module.__class__ = _Package
