"""The operator registry: the ``op`` of a profile step names an operator, its parameter model
(checked when the pack loads) and the function that builds it for a run.

Built-in operators register through :func:`register_operator`, the call a third party would
use, all in one list (:func:`_register_builtins`). Operators of other packages come in
through the ``onshore.operators`` entry-point group: each entry point names a callable that
takes no argument and calls :func:`register_operator`. Both load on the first lookup, never on
import.

>>> spec = operator_spec("round")
>>> spec.params(fields=["speed"], step=5).step
5.0
>>> operator_spec("frobnicate") is None
True
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from onshore.desensitize.kanon import Aggregate, AggregateParams
from onshore.desensitize.operators.base import Operator, Resources
from onshore.desensitize.operators.duplicates import Deduplicate, DeduplicateParams
from onshore.desensitize.operators.fields import (
    Bucket,
    BucketParams,
    BucketTime,
    BucketTimeParams,
    Drop,
    DropParams,
    Keep,
    KeepParams,
    Round,
    RoundParams,
)
from onshore.desensitize.operators.location import (
    Generalize,
    GeneralizeParams,
    RemoveAreas,
    RemoveAreasParams,
    TransformCrs,
    TransformCrsParams,
)
from onshore.desensitize.operators.pseudonym import Pseudonymize, PseudonymizeParams
from onshore.desensitize.trips import Trips, TripsParams
from onshore.errors import PackError
from onshore.packs.profiles import OperatorParams, Step

__all__ = [
    "ENTRY_POINT_GROUP",
    "OperatorSpec",
    "Resources",
    "build_operator",
    "operator_spec",
    "register_operator",
    "registered_operators",
]

ENTRY_POINT_GROUP = "onshore.operators"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
P = TypeVar("P", bound=OperatorParams)


@dataclass(frozen=True)
class OperatorSpec(Generic[P]):
    """One registered operator: its name, its parameter model, and how to build it."""

    name: str
    params: type[P]
    build: Callable[[P, Resources], Operator]


_REGISTRY: dict[str, OperatorSpec[Any]] = {}
_LOADED_HOOKS: set[str] = set()  # the entry points whose hook has run
_builtins_loaded = False
_plugins_loaded = False
_LOCK = threading.RLock()  # first lookups from several threads load once (hooks re-enter)


def register_operator(
    name: str, params: type[P], build: Callable[[P, Resources], Operator]
) -> OperatorSpec[P]:
    """Make ``name`` (the ``op:`` of a profile step) an operator: steps naming it are validated
    by ``params`` when the pack or profile file loads, and run by ``build(params, resources)``.

    The built-ins register through this call too; a name registers once."""
    registry = _builtins()
    if not NAME_RE.match(name):
        raise ValueError(f"operator name {name!r} is not lower_snake_case")
    if not (isinstance(params, type) and issubclass(params, OperatorParams)):
        raise TypeError(f"the parameters of operator {name!r} must subclass OperatorParams")
    spec = OperatorSpec(name, params, build)
    with _LOCK:
        if name in registry:
            raise ValueError(f"operator {name!r} is already registered")
        registry[name] = spec
    return spec


def operator_spec(name: str) -> OperatorSpec[Any] | None:
    """The operator registered under ``name``, or ``None``."""
    return _registry().get(name)


def registered_operators() -> Mapping[str, OperatorSpec[Any]]:
    """Every registered operator by name (built-ins, then plugins, then later calls)."""
    return MappingProxyType(_registry())


def build_operator(step: Step, resources: Resources) -> Operator:
    """The operator for one validated profile step."""
    spec = operator_spec(step.op)
    if spec is None:
        raise PackError(f"no operator {step.op!r} is registered")
    operator = spec.build(step.params, resources)
    if getattr(type(operator), "NAME", None) != spec.name:
        raise TypeError(
            f"operator {spec.name!r} built a {type(operator).__name__} whose NAME is not "
            f"{spec.name!r}"
        )
    return operator


def _builtins() -> dict[str, OperatorSpec[Any]]:
    global _builtins_loaded
    with _LOCK:
        if not _builtins_loaded:
            _builtins_loaded = True
            _register_builtins()
    return _REGISTRY


def _registry() -> dict[str, OperatorSpec[Any]]:
    global _plugins_loaded
    registry = _builtins()
    with _LOCK:
        if not _plugins_loaded:
            _plugins_loaded = True
            _load_plugins()
    return registry


def _register_builtins() -> None:
    """The built-in operators, through the call a third party uses."""
    register_operator(Drop.NAME, DropParams, Drop.build)
    register_operator(Keep.NAME, KeepParams, Keep.build)
    register_operator(Round.NAME, RoundParams, Round.build)
    register_operator(Bucket.NAME, BucketParams, Bucket.build)
    register_operator(BucketTime.NAME, BucketTimeParams, BucketTime.build)
    register_operator(Pseudonymize.NAME, PseudonymizeParams, Pseudonymize.build)
    register_operator(Generalize.NAME, GeneralizeParams, Generalize.build)
    register_operator(TransformCrs.NAME, TransformCrsParams, TransformCrs.build)
    register_operator(RemoveAreas.NAME, RemoveAreasParams, RemoveAreas.build)
    register_operator(Deduplicate.NAME, DeduplicateParams, Deduplicate.build)
    register_operator(Trips.NAME, TripsParams, Trips.build)
    register_operator(Aggregate.NAME, AggregateParams, Aggregate.build)


def _load_plugins() -> None:
    """Call the hook of every ``onshore.operators`` entry point; a broken one is a PackError
    naming it (and the next lookup tries the rest again)."""
    global _plugins_loaded
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.value in _LOADED_HOOKS:
            continue
        try:
            hook = entry.load()
            _LOADED_HOOKS.add(entry.value)
            hook()
        except Exception as exc:
            _plugins_loaded = False
            raise PackError(
                f"operator plugin {entry.name!r} ({entry.value}) did not load: {exc}"
            ) from exc
