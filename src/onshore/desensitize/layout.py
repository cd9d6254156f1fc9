"""What the operators know about the columns as the profile reshapes them.

The runner builds a :class:`Layout` from the pack's labels of the input schema; every operator
derives the next layout from the one before (columns dropped, renamed, added, handled), once
per schema, before any row flows. Hidden columns (``__onshore_*``) carry what the runner needs
between steps (the true data subject, the trip) and never reach the output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onshore.classify.plan import FieldPlan
from onshore.desensitize.grid import MetricGrid
from onshore.packs import Pack

HIDDEN = "__onshore_"
SUBJECT = HIDDEN + "subject"
"""The true data subject of a row (the input's subject column, as a string)."""
TRIP = HIDDEN + "trip"
"""The start of the row's trip (epoch milliseconds), set by the ``trips`` step."""


@dataclass(frozen=True)
class Layout:
    """The visible columns, their categories, the role columns and the columns handled so far."""

    names: tuple[str, ...]
    categories: Mapping[str, str | None]
    ts: str | None
    lat: str | None
    lon: str | None
    crs: str | None
    trace: str | None
    """The column that tells one released trace (vehicle, trip) from another, if any."""
    handled: frozenset[str] = frozenset()
    trips: bool = False
    grid: MetricGrid | None = None
    """The grid positions were snapped to, if any: steps that write positions afterwards
    (``transform_crs``) put them back on its exact centres and round them to its precision."""

    @classmethod
    def from_plan(cls, plan: FieldPlan) -> Layout:
        return cls(
            names=tuple(f.name for f in plan.fields),
            categories={f.name: f.category for f in plan.fields},
            ts=plan.ts,
            lat=plan.lat,
            lon=plan.lon,
            crs=plan.crs,
            trace=plan.subject,
        )

    def replace(self, **changes: Any) -> Layout:
        return dataclasses.replace(self, **changes)

    def select(self, pack: Pack, categories: list[str], fields: list[str]) -> tuple[str, ...]:
        """Visible columns within any of ``categories`` or named in ``fields`` (any case)."""
        wanted = {f.casefold() for f in fields}
        out = []
        for name in self.names:
            cat = self.categories.get(name)
            if name.casefold() in wanted or (
                cat is not None and any(pack.is_within(cat, c) for c in categories)
            ):
                out.append(name)
        return tuple(out)

    def without(self, names: tuple[str, ...]) -> Layout:
        gone = set(names)
        roles = {
            role: None if getattr(self, role) in gone else getattr(self, role)
            for role in ("ts", "lat", "lon", "crs", "trace")
        }
        return self.replace(
            names=tuple(n for n in self.names if n not in gone),
            categories={k: v for k, v in self.categories.items() if k not in gone},
            handled=self.handled - gone,
            **roles,
        )

    def with_handled(self, names: tuple[str, ...] | list[str]) -> Layout:
        return self.replace(handled=self.handled | set(n for n in names if n))
