"""``write_demo``: the whole sample fleet, planned then written into one directory."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from onshore.demo.areas import make_areas
from onshore.demo.charging import hourly_table, make_stations, sessions_table
from onshore.demo.fleet import make_fleet
from onshore.demo.owners import write_owners
from onshore.demo.plan import local_midnight_s, plan_vehicle
from onshore.demo.readme import README_MARKER, render_readme
from onshore.demo.telemetry import TelemetryWriter, render_vehicle
from onshore.errors import BadInput
from onshore.geo import AreaIndex, load_areas
from onshore.packs import load_pack

DEFAULT_START = date(2026, 11, 2)
MAX_VEHICLES = 100_000
MAX_DAYS = 366
FILES = (
    "telemetry.parquet",
    "charging_sessions.parquet",
    "charging_stations_hourly.parquet",
    "owners.csv",
    "areas.geojson",
    "README.md",
)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`write_demo` wrote: counts and the path of every file."""

    directory: str
    vehicles: int
    days: int
    seed: int
    start: str
    trips: int
    telemetry_rows: int
    area_rows: int
    charging_sessions: int
    stations: int
    station_hours: int
    areas: int
    files: dict[str, str]

    @property
    def area_share(self) -> float:
        """Share of telemetry rows inside a sensitive area or its buffer."""
        return self.area_rows / self.telemetry_rows if self.telemetry_rows else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (adds ``area_share``)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["area_share"] = round(self.area_share, 5)
        return out


def check_target(directory: Path, force: bool) -> None:
    """Refuse a non-empty directory that does not hold an earlier demo, unless ``force``."""
    if directory.exists() and not directory.is_dir():
        raise BadInput("exists and is not a directory", file=str(directory))
    if not directory.exists() or force or not any(directory.iterdir()):
        return
    readme = directory / "README.md"
    try:
        previous = readme.is_file() and README_MARKER in readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        previous = False
    if not previous:
        raise BadInput(
            "directory is not empty and holds no earlier demo; pass --force to write into it",
            file=str(directory),
        )


def _check_options(vehicles: int, days: int, seed: int) -> None:
    if not 1 <= vehicles <= MAX_VEHICLES:
        raise BadInput(f"--vehicles must be between 1 and {MAX_VEHICLES}, got {vehicles}")
    if not 1 <= days <= MAX_DAYS:
        raise BadInput(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    if seed < 0:
        raise BadInput(f"--seed must be >= 0, got {seed}")


def write_demo(
    directory: str | os.PathLike[str],
    vehicles: int = 200,
    days: int = 1,
    seed: int = 7,
    start: date = DEFAULT_START,
    *,
    force: bool = False,
    on_vehicle: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write a deterministic sample fleet (same arguments → byte-identical files).

    ``on_vehicle`` is called with ``"planning"`` once per car planned, then with
    ``"writing"`` once per car written (for progress bars: ``2 * vehicles`` calls). Raises
    :class:`~onshore.errors.BadInput` for bad options or a directory it must not write into.

    >>> import tempfile
    >>> summary = write_demo(tempfile.mkdtemp() + "/demo", vehicles=2, seed=1)
    >>> summary.vehicles, summary.areas >= 6, summary.telemetry_rows > 2000
    (2, True, True)
    """
    _check_options(vehicles, days, seed)
    out = Path(directory)
    check_target(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the directory: {exc}", file=str(out)) from exc
    paths = {name: out / name for name in FILES}

    fleet = make_fleet(seed, vehicles)
    stations = make_stations(seed, max(8, math.ceil(vehicles / 8)))
    step = on_vehicle or (lambda _phase: None)
    plans = []
    for v in fleet:
        plans.append(plan_vehicle(v, stations, seed, start, days))
        step("planning")
    trips = [t for p in plans for t in p.trips]
    catalogue = make_areas(trips, seed)
    paths["areas.geojson"].write_text(json.dumps(catalogue, indent=1) + "\n", encoding="utf-8")
    # Buffers a feature leaves out default to the pack's, exactly as ``onshore scan`` does.
    kinds = load_pack("cn-auto").area_buffers()
    index = AreaIndex.build(load_areas(paths["areas.geojson"], kinds=kinds))

    area_rows = 0
    with TelemetryWriter(paths["telemetry.parquet"]) as writer:
        for plan in plans:
            table = render_vehicle(plan, seed)
            lat = table["lat"].to_numpy(zero_copy_only=False)
            lon = table["lon"].to_numpy(zero_copy_only=False)
            area_rows += int(np.count_nonzero(index.lookup(lon, lat).area >= 0))
            writer.append(table)
            step("writing")
    rows = writer.rows_written

    sessions = sessions_table(plans, stations)
    pq.write_table(sessions, paths["charging_sessions.parquet"], compression="zstd")
    hours = 24 * days
    hourly = hourly_table(plans, stations, local_midnight_s(start, 0), hours, seed)
    pq.write_table(hourly, paths["charging_stations_hourly.parquet"], compression="zstd")
    write_owners(paths["owners.csv"], fleet, seed)

    summary = DemoSummary(
        directory=str(out),
        vehicles=vehicles,
        days=days,
        seed=seed,
        start=start.isoformat(),
        trips=len(trips),
        telemetry_rows=rows,
        area_rows=area_rows,
        charging_sessions=sessions.num_rows,
        stations=len(stations),
        station_hours=hourly.num_rows,
        areas=len(catalogue["features"]),
        files={name: str(p) for name, p in paths.items()},
    )
    paths["README.md"].write_text(render_readme(summary, catalogue), encoding="utf-8")
    return summary
