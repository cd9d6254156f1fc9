"""k-anonymity: the aggregation operator, and the meter of a table's quasi-identifiers.

:class:`Aggregate` replaces the rows by counts of distinct vehicles per grid cell and hour
(``presence``) and by trips per origin and destination cell and hour of departure (``od``);
every group with fewer than ``k`` distinct vehicles is suppressed, and the suppression is
reported. :class:`KAnonMeter` measures, for the columns the profile names as quasi-identifiers,
how many distinct data subjects share each combination of values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from onshore.classify.coerce import TS_TYPE
from onshore.desensitize.grid import MetricGrid
from onshore.desensitize.layout import SUBJECT, TRIP, Layout
from onshore.desensitize.operators.base import Operator, Resources
from onshore.packs.profiles import OperatorParams

_COMPACT_ROWS = 1 << 21


class _DistinctRows:
    """Distinct rows of a stream of small tables, compacted as they grow."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []
        self._rows = 0

    def add(self, table: pa.Table) -> None:
        table = table.group_by(table.column_names, use_threads=False).aggregate([])
        self._parts.append(table)
        self._rows += table.num_rows
        if self._rows > _COMPACT_ROWS and len(self._parts) > 1:
            merged = self.table()
            if merged is not None:  # always, with parts to merge
                self._parts, self._rows = [merged], merged.num_rows

    def merge(self, table: pa.Table | None) -> None:
        """Add the distinct rows another part kept."""
        if table is not None and table.num_rows:
            self.add(table)

    def table(self) -> pa.Table | None:
        if not self._parts:
            return None
        table = pa.concat_tables(self._parts)
        return table.group_by(table.column_names, use_threads=False).aggregate([])


def _both_flows() -> list[Literal["presence", "od"]]:
    return ["presence", "od"]


class AggregateParams(OperatorParams):
    """Replace the rows by k-anonymous aggregates per grid cell and hour: distinct vehicles
    (``presence``) and origin-destination trips (``od``); groups under ``k`` are suppressed."""

    k: Annotated[int, Field(ge=2)]
    grid_m: Annotated[float, Field(ge=10, le=1_000_000, allow_inf_nan=False)] = 1000.0
    every_s: Annotated[int, Field(gt=0)] = 3600
    flows: list[Literal["presence", "od"]] = Field(default_factory=_both_flows, min_length=1)


class Aggregate(Operator):
    """k-anonymous vehicle counts per cell and hour and origin-destination trips."""

    NAME = "aggregate"
    params: AggregateParams
    whole_stream = True

    def __init__(self, params: AggregateParams) -> None:
        super().__init__(params)
        self.grid = MetricGrid(params.grid_m)
        self._presence = _DistinctRows()
        self._od = _DistinctRows()
        self.lat: str | None = None
        self.lon: str | None = None
        self.ts: str | None = None

    @classmethod
    def build(cls, params: AggregateParams, resources: Resources) -> Aggregate:
        return cls(params)

    def bind(self, layout: Layout) -> Layout:
        self.lat, self.lon, self.ts = layout.lat, layout.lon, layout.ts
        names: tuple[str, ...] = ("flow", "ts", "cell", "cell_lon", "cell_lat", "dest_cell")
        names += ("dest_lon", "dest_lat", "vehicle_count", "trips_count")
        return Layout(
            names=names,
            categories={n: None for n in names},
            ts="ts",
            lat=None,
            lon=None,
            crs=None,
            trace=None,
            handled=frozenset(names),
        )

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        self.rows_in += batch.num_rows
        if self.lat is None or self.lon is None or self.ts is None or batch.num_rows == 0:
            return None
        lon = pc.cast(batch.column(self.lon), pa.float64()).to_numpy(zero_copy_only=False)
        lat = pc.cast(batch.column(self.lat), pa.float64()).to_numpy(zero_copy_only=False)
        ts = pc.cast(batch.column(self.ts), pa.int64()).to_numpy(zero_copy_only=False)
        ok = ~(np.isnan(lon) | np.isnan(lat))
        row, col = self.grid.cells(lon, lat)
        hour = np.floor_divide(ts, self.params.every_s * 1000)
        subject = batch.column(SUBJECT)
        sel = pa.array(ok)
        if "presence" in self.params.flows:
            self._presence.add(
                pa.table(
                    {
                        "row": row,
                        "col": col,
                        "hour": hour,
                        "subject": subject,
                    }
                ).filter(sel)
            )
        if "od" in self.params.flows and TRIP in batch.schema.names:
            t = pa.table(
                {
                    "subject": subject,
                    "trip": batch.column(TRIP),
                    "i": np.arange(batch.num_rows),
                }
            ).filter(sel)
            ends = t.group_by(["subject", "trip"], use_threads=False).aggregate(
                [("i", "min"), ("i", "max")]
            )
            a = ends.column("i_min").to_numpy()
            b = ends.column("i_max").to_numpy()
            self._od.add(
                pa.table(
                    {
                        "row": row[a],
                        "col": col[a],
                        "drow": row[b],
                        "dcol": col[b],
                        "hour": np.floor_divide(
                            ends.column("trip").to_numpy(), self.params.every_s * 1000
                        ),
                        "subject": ends.column("subject"),
                        "trip": ends.column("trip"),
                    }
                )
            )
        return None

    def state(self) -> dict[str, Any]:
        """Rows counted and the distinct (cell, hour, vehicle) and trip rows held so far."""
        return {**super().state(), "presence": self._presence.table(), "od": self._od.table()}

    def merge(self, state: dict[str, Any]) -> None:
        """Add another part's distinct rows: their union is exactly the whole stream's."""
        super().merge(state)
        self._presence.merge(state["presence"])
        self._od.merge(state["od"])

    def flush(self) -> pa.RecordBatch | None:
        k = self.params.k
        parts = []
        presence = self._presence.table()
        if presence is not None:
            g = presence.group_by(["row", "col", "hour"], use_threads=False).aggregate(
                [("subject", "count")]
            )
            parts.append(self._emit(g, "presence", k, "subject_count", None))
        od = self._od.table()
        if od is not None:
            g = od.group_by(["row", "col", "drow", "dcol", "hour"], use_threads=False).aggregate(
                [("subject", "count_distinct"), ("trip", "count")]
            )
            parts.append(self._emit(g, "od", k, "subject_count_distinct", "trip_count"))
        if not parts:
            return None
        table = pa.concat_tables(parts).combine_chunks()
        # One batch, also when every group was suppressed: its schema is the output's.
        batch = pa.RecordBatch.from_arrays(
            [table.column(i).combine_chunks() for i in range(table.num_columns)],
            schema=table.schema,
        )
        self.rows_out += batch.num_rows
        return batch

    def _emit(self, g: pa.Table, flow: str, k: int, vehicles: str, trips: str | None) -> pa.Table:
        counts = g.column(vehicles).to_numpy()
        keep = counts >= k
        self.details[flow] = {
            "groups": len(counts),
            "groups_suppressed": int((~keep).sum()),
            "vehicle_hours_suppressed" if flow == "presence" else "vehicle_trips_suppressed": int(
                counts[~keep].sum()
            ),
            "released": int(keep.sum()),
        }
        g = g.filter(pa.array(keep))
        cx, cy = map(
            self.grid.round,
            self.grid.centres(g.column("row").to_numpy(), g.column("col").to_numpy()),
        )
        cell = _cell_ids(self.params.grid_m, g.column("row"), g.column("col"))
        n = g.num_rows
        data: dict[str, Any] = {
            "flow": pa.array([flow] * n, pa.string()),
            "ts": pa.array(g.column("hour").to_numpy() * self.params.every_s * 1000)
            .cast(pa.timestamp("ms"))
            .cast(TS_TYPE),
            "cell": cell,
            "cell_lon": pa.array(cx),
            "cell_lat": pa.array(cy),
        }
        if "drow" in g.column_names:
            dx, dy = map(
                self.grid.round,
                self.grid.centres(g.column("drow").to_numpy(), g.column("dcol").to_numpy()),
            )
            data["dest_cell"] = _cell_ids(self.params.grid_m, g.column("drow"), g.column("dcol"))
            data["dest_lon"], data["dest_lat"] = pa.array(dx), pa.array(dy)
        else:
            data["dest_cell"] = pa.nulls(n, pa.string())
            data["dest_lon"] = pa.nulls(n, pa.float64())
            data["dest_lat"] = pa.nulls(n, pa.float64())
        data["vehicle_count"] = pa.array(g.column(vehicles).to_numpy(), pa.int64())
        data["trips_count"] = (
            pa.array(g.column(trips).to_numpy(), pa.int64()) if trips else pa.nulls(n, pa.int64())
        )
        return pa.table(data)


def _cell_ids(size: float, row: pa.ChunkedArray, col: pa.ChunkedArray) -> pa.Array:
    """Cell ids ``m<size>:<row>:<col>``."""
    r = pc.cast(row.combine_chunks(), pa.string())
    c = pc.cast(col.combine_chunks(), pa.string())
    return pc.binary_join_element_wise(pa.scalar(f"m{size:g}"), r, c, ":")


@dataclass(frozen=True)
class KAnonymity:
    """How many distinct subjects share each combination of the quasi-identifiers."""

    columns: tuple[str, ...]
    k: int
    classes: int
    k_min: int | None
    classes_below_k: int
    subjects_in_classes_below_k_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "k": self.k,
            "classes": self.classes,
            "k_min": self.k_min,
            "classes_below_k": self.classes_below_k,
            "subject_share_below_k": self.subjects_in_classes_below_k_share,
        }


class KAnonMeter:
    """Accumulate (quasi-identifier values, subject) pairs over a stream; measure k at the end."""

    def __init__(self, columns: tuple[str, ...], k: int) -> None:
        self.columns = columns
        self.k = k
        self._pairs = _DistinctRows()

    def add(self, batch: pa.RecordBatch, subject: pa.Array) -> None:
        if not self.columns or batch.num_rows == 0:
            return
        data = {f"q{i}": batch.column(c) for i, c in enumerate(self.columns)}
        data["subject"] = subject
        self._pairs.add(pa.table(data))

    def merge(self, other: KAnonMeter) -> None:
        """Add the pairs a meter of the same columns kept over another part of the stream."""
        self._pairs.merge(other._pairs.table())

    def result(self) -> KAnonymity:
        pairs = self._pairs.table()
        if pairs is None or pairs.num_rows == 0:
            return KAnonymity(self.columns, self.k, 0, None, 0, None)
        keys = [c for c in pairs.column_names if c != "subject"]
        g = pairs.group_by(keys, use_threads=False).aggregate([("subject", "count")])
        counts = g.column("subject_count").to_numpy()
        below = counts < self.k
        return KAnonymity(
            columns=self.columns,
            k=self.k,
            classes=len(counts),
            k_min=int(counts.min()),
            classes_below_k=int(below.sum()),
            subjects_in_classes_below_k_share=round(float(counts[below].sum() / counts.sum()), 4),
        )
