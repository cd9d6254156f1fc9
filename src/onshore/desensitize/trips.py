"""Trip segmentation and trip-end trimming, streamed.

A vehicle's rows (sorted by time) start a new trip after a gap over ``gap_s`` or after a row
whose ignition is off (when an ignition column is present). Trimming removes every point within
``metres`` (straight line, true metres) of the trip's first or last position, every point in
its first or last ``seconds``, and rows without a position; the radius grows by the largest
distance a later generalization step may move a point, so the promise holds on the output.

Streaming: a trip is released once it is known to be complete: it ended with the ignition off,
a later row of its vehicle started a new trip, the input is sorted by vehicle and has moved on
to a later one, or the input is sorted by time and has moved more than ``gap_s`` past it. Other
trips wait for the end of the stream, so unsorted input holds its open trips in memory.

>>> import pyarrow as pa
>>> from onshore.desensitize.layout import SUBJECT
>>> op = Trips(TripsParams(gap_s=60))
>>> op.bind(Layout(("ts",), {"ts": "time"}, "ts", None, None, None, None)).trips
True
>>> b = pa.record_batch({"ts": pa.array([0, 10_000, 200_000], pa.timestamp("ms", tz="UTC")),
...                      SUBJECT: ["a", "a", "a"]})
>>> op.apply(b).column(TRIP).to_pylist()   # the first trip is closed by the 190 s gap
[0, 0]
>>> op.flush().column(TRIP).to_pylist()
[200000]
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from onshore.desensitize.layout import SUBJECT, TRIP, Layout
from onshore.desensitize.operators.base import Operator, Resources, set_column
from onshore.geo.ellipsoid import metres_per_degree
from onshore.packs.profiles import OperatorParams

_BIG = np.iinfo(np.int64).max


class Trim(OperatorParams):
    """Remove the points within ``metres`` (straight line) of a trip's first or last position,
    and those in its first or last ``seconds``."""

    metres: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


class TripsParams(OperatorParams):
    """Cut each vehicle's rows into trips (a gap over ``gap_s``, or the ignition turning off
    when an ignition column is present) and optionally trim every trip's ends."""

    gap_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 300.0
    ignition: bool = True
    ignition_fields: list[str] = Field(default_factory=lambda: ["ignition", "ignition_on"])
    trim: Trim | None = None


class Trips(Operator):
    """Segment every vehicle's rows into trips (hidden column ``TRIP``) and trim trip ends."""

    NAME = "trips"
    params: TripsParams

    def __init__(self, params: TripsParams, guard_m: float = 0.0) -> None:
        super().__init__(params)
        self.guard_m = guard_m
        self.ts: str | None = None
        self.lat: str | None = None
        self.lon: str | None = None
        self.ignition: str | None = None
        self._carry: pa.Table | None = None
        self._by_vehicle = True
        self._by_time = True
        self._last_subject: str | None = None
        self._watermark: int | None = None
        self.trips = 0
        self.trimmed = 0

    @classmethod
    def build(cls, params: TripsParams, resources: Resources) -> Trips:
        return cls(params, resources.guard_m)

    def bind(self, layout: Layout) -> Layout:
        if layout.ts is None:
            self.details["skipped"] = "no time column: no trips"
            return layout
        self.ts, self.lat, self.lon = layout.ts, layout.lat, layout.lon
        if self.params.ignition:
            wanted = [f.casefold() for f in self.params.ignition_fields]
            self.ignition = next((n for n in layout.names if n.casefold() in wanted), None)
        trim = self.params.trim
        self.details["ignition_column"] = self.ignition
        if trim is not None:
            self.details["trim_radius_m"] = trim.metres + (self.guard_m if trim.metres else 0)
        return layout.replace(trips=True).with_handled([layout.ts])

    # -- streaming -----------------------------------------------------------------------------
    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        self.rows_in += batch.num_rows
        if self.ts is None:
            self.rows_out += batch.num_rows
            return batch
        if batch.num_rows:
            self._observe_order(batch)
        table = pa.Table.from_batches([batch])
        if self._carry is not None:
            table = pa.concat_tables([self._carry, table])
        return self._cut(table, final=False)

    def flush(self) -> pa.RecordBatch | None:
        if self._carry is None:
            return None
        table, self._carry = self._carry, None
        return self._cut(table, final=True)

    def state(self) -> dict[str, Any]:
        assert self._carry is None, "state() of a part that was not flushed"
        return {**super().state(), "trips": self.trips, "trimmed": self.trimmed}

    def merge(self, state: dict[str, Any]) -> None:
        super().merge(state)
        self.trips += state["trips"]
        self.trimmed += state["trimmed"]
        if "trips" in self.details:
            self.details["trips"] = self.trips
            self.details["rows_trimmed"] = self.trimmed

    def _observe_order(self, batch: pa.RecordBatch) -> None:
        subject = batch.column(SUBJECT)
        ts = pc.cast(batch.column(self.ts), pa.int64())
        first, last = subject[0].as_py(), subject[-1].as_py()
        n = batch.num_rows
        if self._by_vehicle:
            ordered = (
                n < 2 or not pc.any(pc.less(subject.slice(1), subject.slice(0, n - 1))).as_py()
            )
            after = self._last_subject is None or (
                first is not None and first >= self._last_subject
            )
            self._by_vehicle = bool(ordered and after and first is not None)
            self._last_subject = last
        if self._by_time:
            ordered = n < 2 or not pc.any(pc.less(ts.slice(1), ts.slice(0, n - 1))).as_py()
            low = pc.min(ts).as_py()
            after = self._watermark is None or (low is not None and low >= self._watermark)
            self._by_time = bool(ordered and after)
            high = pc.max(ts).as_py()
            self._watermark = high if self._watermark is None else max(self._watermark, high)

    def _cut(self, table: pa.Table, *, final: bool) -> pa.RecordBatch | None:
        if table.num_rows == 0:
            return None
        order = pc.sort_indices(table, sort_keys=[(SUBJECT, "ascending"), (self.ts, "ascending")])
        batch = table.take(order).combine_chunks().to_batches()[0]
        n = batch.num_rows
        subject = batch.column(SUBJECT)
        ts = pc.cast(batch.column(self.ts), pa.int64()).to_numpy(zero_copy_only=False)
        new_vehicle = np.ones(n, dtype=bool)
        if n > 1:
            differ = pc.not_equal(subject.slice(1), subject.slice(0, n - 1))
            new_vehicle[1:] = np.asarray(
                pc.fill_null(differ, True).to_numpy(zero_copy_only=False), dtype=bool
            )
        off = self._ignition_off(batch)
        new = new_vehicle.copy()
        new[1:] |= (np.diff(ts) > self.params.gap_s * 1000) | off[:-1]
        starts = np.flatnonzero(new)
        trip = np.cumsum(new) - 1
        ends = np.r_[starts[1:], n] - 1
        closed = np.ones(len(starts), dtype=bool)
        if not final:
            last_of_vehicle = np.r_[new_vehicle[starts[1:]], True]
            open_ = last_of_vehicle & ~off[ends]
            if self._by_vehicle and self._last_subject is not None:
                subj = np.asarray(subject.take(pa.array(starts)).to_pylist(), dtype=object)
                open_ &= subj >= self._last_subject
            if self._by_time and self._watermark is not None:
                open_ &= ts[ends] >= self._watermark - self.params.gap_s * 1000
            closed = ~open_
        done_rows = closed[trip]
        if not done_rows.all():
            self._carry = pa.Table.from_batches([batch.filter(pa.array(~done_rows))])
        else:
            self._carry = None
        if not done_rows.any():
            return None
        out = batch.filter(pa.array(done_rows))
        ts_out, trip_out = ts[done_rows], trip[done_rows]
        first_ts = ts[starts][trip_out]
        self.trips += int(closed.sum())
        out = set_column(out, TRIP, pa.array(first_ts, type=pa.int64()))
        keep = self._trim(out, ts_out, np.unique(trip_out, return_inverse=True)[1])
        if keep is not None:
            self.trimmed += int((~keep).sum())
            out = out.filter(pa.array(keep))
        self.rows_out += out.num_rows
        self.details["trips"] = self.trips
        self.details["rows_trimmed"] = self.trimmed
        return out

    def _ignition_off(self, batch: pa.RecordBatch) -> np.ndarray:
        if self.ignition is None:
            return np.zeros(batch.num_rows, dtype=bool)
        col = batch.column(self.ignition)
        try:
            values = pc.cast(col, pa.bool_())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.zeros(batch.num_rows, dtype=bool)
        off = pc.fill_null(pc.invert(values), False)
        return np.asarray(off.to_numpy(zero_copy_only=False), dtype=bool)

    def _trim(self, batch: pa.RecordBatch, ts: np.ndarray, trip: np.ndarray) -> np.ndarray | None:
        trim = self.params.trim
        if trim is None:
            return None
        n = batch.num_rows
        starts = np.flatnonzero(np.r_[True, trip[1:] != trip[:-1]])
        keep = np.ones(n, dtype=bool)
        if trim.seconds:
            t0 = np.minimum.reduceat(ts, starts)[trip]
            t1 = np.maximum.reduceat(ts, starts)[trip]
            keep &= (ts - t0 >= trim.seconds * 1000) & (t1 - ts >= trim.seconds * 1000)
        if trim.metres and self.lat is not None and self.lon is not None:
            lon = pc.cast(batch.column(self.lon), pa.float64()).to_numpy(zero_copy_only=False)
            lat = pc.cast(batch.column(self.lat), pa.float64()).to_numpy(zero_copy_only=False)
            valid = ~(np.isnan(lon) | np.isnan(lat))
            idx = np.arange(n, dtype=np.int64)
            first = np.minimum.reduceat(np.where(valid, idx, _BIG), starts)
            last = np.maximum.reduceat(np.where(valid, idx, -1), starts)
            has = last >= 0
            radius = trim.metres + self.guard_m
            for end in (first, last):
                ref = np.where(has, end, 0)[trip]
                kx, ky = metres_per_degree(lat[ref])
                d = np.hypot((lon - lon[ref]) * kx, (lat - lat[ref]) * ky)
                keep &= valid & has[trip] & (d >= radius)
        return keep
