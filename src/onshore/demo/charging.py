"""Charging stations, the fleet's charging sessions, and each station's hourly operation.

The hourly table is what a charging-network operator reports (sessions started, energy,
utilisation, connectors in use): the fleet's own sessions plus background sessions of cars
outside the fleet, drawn per hour with a daily rhythm and admitted only while a connector is
free.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from onshore.demo.fleet import BUSINESS, RESIDENTIAL
from onshore.demo.grid import random_place_near, to_local, to_lonlat
from onshore.demo.plan import HOUR, Session, Station, VehiclePlan

# Share of a station's connectors that background cars start using per hour, by local hour.
_DAILY = np.array(
    [0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.10, 0.18, 0.22, 0.20, 0.20, 0.24,
     0.30, 0.28, 0.22, 0.20, 0.22, 0.26, 0.30, 0.34, 0.36, 0.32, 0.24, 0.16]
)  # fmt: skip
TS = pa.timestamp("ms", tz="UTC")


def make_stations(seed: int, count: int) -> list[Station]:
    """``count`` stations near the residential and business districts."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    hubs = RESIDENTIAL + BUSINESS
    w = np.array([h[2] for h in hubs])
    stations = []
    for i in range(count):
        lon, lat, _ = hubs[rng.choice(len(hubs), p=w / w.sum())]
        x, y = to_local(lon, lat)
        stations.append(
            Station(
                index=i,
                station_id=f"ST-BJ-{i + 1:04d}",
                place=random_place_near(rng, x, y, 3500.0),
                power_kw=float(rng.choice([60.0, 120.0, 180.0])),
                connectors=int(rng.integers(4, 13)),
            )
        )
    return stations


def _ms(seconds: Sequence[float]) -> np.ndarray:
    """Epoch seconds to integer epoch milliseconds."""
    return np.round(np.array(seconds, dtype=np.float64) * 1000).astype(np.int64)


def sessions_table(plans: Sequence[VehiclePlan], stations: Sequence[Station]) -> pa.Table:
    """The fleet's sessions, by start time, as the ``charging_sessions.parquet`` table."""
    rows = sorted(
        ((s, p.vehicle.vin) for p in plans for s in p.sessions), key=lambda r: (r[0].start_s, r[1])
    )
    st = [stations[s.station] for s, _ in rows]
    lon, lat = to_lonlat(np.array([s.place.x for s in st]), np.array([s.place.y for s in st]))
    return pa.table(
        {
            "session_id": pa.array([f"CS-{i + 1:07d}" for i in range(len(rows))], pa.string()),
            "vin": pa.array([vin for _, vin in rows], pa.string()),
            "station_id": pa.array([s.station_id for s in st], pa.string()),
            "session_start": pa.array(_ms([s.start_s for s, _ in rows]), TS),
            "session_end": pa.array(_ms([s.end_s for s, _ in rows]), TS),
            "energy_kwh": pa.array(np.round([s.energy_kwh for s, _ in rows], 2), pa.float64()),
            "start_soc": pa.array(np.round([s.start_soc for s, _ in rows], 1), pa.float64()),
            "end_soc": pa.array(np.round([s.end_soc for s, _ in rows], 1), pa.float64()),
            "station_lat": pa.array(np.round(lat, 7), pa.float64()),
            "station_lon": pa.array(np.round(lon, 7), pa.float64()),
        }
    )


def _station_sessions(
    station: Station, fleet: list[Session], t0: float, hours: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Start, end and energy of every session at one station (the fleet's and the admitted
    others), and the connectors in service (more when the fleet alone needs more)."""
    starts = [s.start_s for s in fleet]
    ends = [s.end_s for s in fleet]
    energy = [s.energy_kwh for s in fleet]
    s_arr, e_arr = np.array(starts), np.array(ends)
    peak = max((int(np.count_nonzero((s_arr <= s) & (e_arr > s))) for s in starts), default=0)
    connectors = max(station.connectors, peak)
    local_hour = (np.arange(hours) + 8 + int(t0 // HOUR)) % 24
    n = rng.poisson(_DAILY[local_hour] * station.connectors)
    cand = t0 + np.repeat(np.arange(hours), n) * HOUR + rng.uniform(0, HOUR, n.sum())
    dur = rng.uniform(0.3, 1.1, cand.size) * HOUR
    kwh = dur / HOUR * station.power_kw * rng.uniform(0.35, 0.7, cand.size)
    for s, d, k in zip(cand, dur, kwh, strict=True):
        busy = int(np.count_nonzero((s_arr <= s) & (e_arr > s) | (s_arr > s) & (s_arr < s + d)))
        if busy < connectors:
            starts.append(s)
            ends.append(s + d)
            energy.append(k)
            s_arr, e_arr = np.append(s_arr, s), np.append(e_arr, s + d)
    return np.array(starts), np.array(ends), np.array(energy), connectors


def hourly_table(
    plans: Sequence[VehiclePlan], stations: Sequence[Station], t0: float, hours: int, seed: int
) -> pa.Table:
    """Per station and hour from ``t0``: sessions started, energy delivered, utilisation, and
    connectors occupied at the top of the hour."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 6]))
    by_station: list[list[Session]] = [[] for _ in stations]
    for p in plans:
        for s in p.sessions:
            by_station[s.station].append(s)
    edges = t0 + np.arange(hours + 1) * HOUR
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("started", "kwh", "busy_s", "snap")}
    for st in stations:
        start, end, kwh, connectors = _station_sessions(st, by_station[st.index], t0, hours, rng)
        idx = np.floor((start - t0) / HOUR).astype(np.int64)
        ok = (idx >= 0) & (idx < hours)
        cols["started"].append(np.bincount(idx[ok], minlength=hours)[:hours])
        busy = np.zeros(hours)
        energy = np.zeros(hours)
        for k in range(hours):
            overlap = np.clip(np.minimum(end, edges[k + 1]) - np.maximum(start, edges[k]), 0, None)
            busy[k] = overlap.sum()
            energy[k] = (kwh * overlap / np.maximum(end - start, 1.0)).sum()
        cols["busy_s"].append(busy / (connectors * HOUR))
        cols["kwh"].append(energy)
        s_sorted, e_sorted = np.sort(start), np.sort(end)
        snap = np.searchsorted(s_sorted, edges[:-1], "right") - np.searchsorted(
            e_sorted, edges[:-1], "right"
        )
        cols["snap"].append(snap)
    n = len(stations)
    ids = np.repeat(np.array([s.station_id for s in stations], dtype=object), hours)
    hour_ms = np.tile((edges[:-1] * 1000).astype(np.int64), n)
    return pa.table(
        {
            "station_id": pa.array(ids, pa.string()),
            "hour": pa.array(hour_ms, TS),
            "sessions_per_hour": pa.array(np.concatenate(cols["started"]), pa.int32()),
            "energy_delivered_kwh": pa.array(np.round(np.concatenate(cols["kwh"]), 2)),
            "station_utilisation": pa.array(
                np.round(np.clip(np.concatenate(cols["busy_s"]), 0, 1), 3)
            ),
            "occupied_connectors": pa.array(np.concatenate(cols["snap"]), pa.int32()),
        }
    )
