"""The operator registry: each step model of a profile maps to the operator that runs it.

Built-ins register through :func:`register`, the call a third party would use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from onshore.desensitize.kanon import Aggregate
from onshore.desensitize.operators.base import Operator, OperatorReport
from onshore.desensitize.operators.fields import Bucket, BucketTime, Drop, Keep, Round
from onshore.desensitize.operators.location import Generalize, RemoveAreas, TransformCrs
from onshore.desensitize.operators.pseudonym import Pseudonymize
from onshore.desensitize.trips import Trips
from onshore.geo.areas import AreaCatalogue
from onshore.keystore import Key
from onshore.packs import Pack

__all__ = ["REGISTRY", "Operator", "OperatorReport", "Resources", "build", "register"]


@dataclass(frozen=True)
class Resources:
    """What operators may need besides their parameters (passed in, never read globally)."""

    pack: Pack
    key: Key | None = None
    areas: AreaCatalogue | None = None
    boundaries: AreaCatalogue | None = None
    guard_m: float = 0.0


Builder = Callable[[BaseModel, Resources], Operator]
REGISTRY: dict[str, Builder] = {}


def register(op: str, builder: Builder) -> None:
    """Make ``op`` (the ``op:`` of a profile step) run with ``builder``."""
    REGISTRY[op] = builder


def build(step: BaseModel, resources: Resources) -> Operator:
    """The operator for one validated step."""
    op = step.op  # type: ignore[attr-defined]  # every step model declares its own ``op``
    return REGISTRY[str(op)](step, resources)


register("drop", lambda s, r: Drop(s, r.pack))  # type: ignore[arg-type]
register("keep", lambda s, r: Keep(s, r.pack))  # type: ignore[arg-type]
register("round", lambda s, r: Round(s, r.pack))  # type: ignore[arg-type]
register("bucket", lambda s, r: Bucket(s, r.pack))  # type: ignore[arg-type]
register("bucket_time", lambda s, r: BucketTime(s, r.pack))  # type: ignore[arg-type]
register("pseudonymize", lambda s, r: Pseudonymize(s, r.pack, r.key))  # type: ignore[arg-type]
register("generalize_location", lambda s, r: Generalize(s, r.boundaries))  # type: ignore[arg-type]
register("transform_crs", lambda s, r: TransformCrs(s))  # type: ignore[arg-type]
register("remove_sensitive_areas", lambda s, r: RemoveAreas(s, r.areas))  # type: ignore[arg-type]
register("trips", lambda s, r: Trips(s, r.guard_m))  # type: ignore[arg-type]
register("aggregate", lambda s, r: Aggregate(s))  # type: ignore[arg-type]
