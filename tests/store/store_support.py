"""Shared by the store, consent and subject tests: a small fleet, a data home, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onshore.store import DataHome

VINS = ("L6T0CAU32MS684045", "L6T24SWD6M3280841", "LSVAU2180N2183294")
T0 = datetime(2026, 11, 1, 22, 0, tzinfo=UTC)  # two UTC dates: 1 and 2 November
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock (a small real implementation, not a mock)."""

    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def telemetry(rows_per_vin: int = 3000, vins: tuple[str, ...] = VINS) -> pa.Table:
    """Sorted by vin, ts; every 30 s from T0, so 3000 rows per vehicle span two UTC dates."""
    n = rows_per_vin
    ts = [T0 + timedelta(seconds=int(i) * 30) for i in range(n)]
    rng = np.random.default_rng(7)
    parts = []
    for k, vin in enumerate(vins):
        parts.append(
            pa.table(
                {
                    "vin": pa.array([vin] * n, pa.string()),
                    "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
                    "lat": 39.9 + rng.random(n) * 0.01 + k * 0.001,
                    "lon": 116.4 + rng.random(n) * 0.01,
                    "speed_kmh": rng.random(n) * 80,
                    "soc": np.full(n, 50.0 + k),
                }
            )
        )
    return pa.concat_tables(parts)


def write_telemetry(folder: Path, **kwargs: object) -> Path:
    path = folder / "telemetry.parquet"
    pq.write_table(telemetry(**kwargs), path, row_group_size=2000)  # type: ignore[arg-type]
    return path


def open_home(path: Path, clock: Clock | None = None, db: str | None = None) -> DataHome:
    return DataHome(path, db=db, clock=clock or Clock(), actor="test", environ={})
