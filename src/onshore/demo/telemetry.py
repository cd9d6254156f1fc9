"""Render planned trips into canonical telemetry rows and write them in ~128k-row groups."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onshore.demo.grid import to_lonlat
from onshore.demo.motion import render_trip
from onshore.demo.plan import Trip, VehiclePlan

ROW_GROUP = 128 * 1024
DROPOUT_TRIP_SHARE = 0.12
"""Share of trips with one GPS dropout (3-15 s without a fix: a tunnel, an underpass)."""

SCHEMA = pa.schema(
    [
        pa.field("vin", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("speed_kmh", pa.float64()),
        pa.field("heading", pa.float64()),
        pa.field("accel_mps2", pa.float64()),
        pa.field("accel_pedal", pa.float64()),
        pa.field("brake_pedal", pa.float64()),
        pa.field("steering_angle", pa.float64()),
        pa.field("soc", pa.float64()),
        pa.field("odometer_km", pa.float64()),
        pa.field("ignition", pa.bool_()),
    ]
)


def _trip_columns(trip: Trip, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3, trip.vehicle, trip.seq]))
    r = render_trip(trip.route, trip.profile, rng)
    n = r["t"].size
    frac = r["s"] / max(trip.profile.length_m, 1e-9)
    lon, lat = to_lonlat(r["x"], r["y"])
    dropout = np.zeros(n, dtype=bool)
    if rng.random() < DROPOUT_TRIP_SHARE and n > 40:
        at = int(rng.integers(10, n - 25))
        dropout[at : at + int(rng.integers(3, 16))] = True
    ignition = np.ones(n, dtype=bool)
    ignition[-1] = False
    return {
        "ts": ((trip.depart_s + r["t"]) * 1000).astype(np.int64),
        "lat": np.round(lat, 6),
        "lon": np.round(lon, 6),
        "dropout": dropout,
        "speed_kmh": r["speed_kmh"],
        "heading": r["heading"],
        "accel_mps2": r["accel_mps2"],
        "accel_pedal": r["accel_pedal"],
        "brake_pedal": r["brake_pedal"],
        "steering_angle": r["steering_angle"],
        "soc": np.round(trip.soc_start - frac * (trip.soc_start - trip.soc_end), 1),
        "odometer_km": np.round(trip.odometer_start_km + r["s"] / 1000.0, 1),
        "ignition": ignition,
    }


def render_vehicle(plan: VehiclePlan, seed: int) -> pa.Table:
    """All of one car's telemetry, in time order."""
    parts = [_trip_columns(t, seed) for t in plan.trips]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None
    if cols is None:
        return SCHEMA.empty_table()
    n = cols["ts"].size
    mask = cols.pop("dropout")
    arrays: list[pa.Array] = [pa.array([plan.vehicle.vin], pa.string()).take(np.zeros(n, np.int64))]
    for f in list(SCHEMA)[1:]:
        values = cols[f.name]
        m = mask if f.name in ("lat", "lon") else None
        arrays.append(pa.array(values, f.type, mask=m))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class TelemetryWriter:
    """Appends tables and writes them to Parquet in row groups of exactly :data:`ROW_GROUP`
    rows (the last one shorter)."""

    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
        self._pending: list[pa.Table] = []
        self._rows = 0
        self.rows_written = 0

    def append(self, table: pa.Table) -> None:
        """Queue rows; full row groups are written as soon as they exist."""
        self._pending.append(table)
        self._rows += table.num_rows
        if self._rows >= ROW_GROUP:
            whole = pa.concat_tables(self._pending).combine_chunks()
            cut = (whole.num_rows // ROW_GROUP) * ROW_GROUP
            self._write(whole.slice(0, cut))
            rest = whole.slice(cut)
            self._pending, self._rows = [rest], rest.num_rows

    def _write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table, row_group_size=ROW_GROUP)
            self.rows_written += table.num_rows

    def close(self) -> None:
        """Write what is left and close the file."""
        if self._pending:
            self._write(pa.concat_tables(self._pending).combine_chunks())
            self._pending = []
        self._writer.close()

    def __enter__(self) -> TelemetryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
