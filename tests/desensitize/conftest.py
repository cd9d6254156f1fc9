"""Fixtures: the default demo fleet (written once), a fixed key, reference trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import onshore
from onshore.demo import DemoSummary, write_demo
from onshore.keystore import HMAC_KEY, Key, Keystore


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    """The demo fleet as `onshore demo-data` writes it by default (200 cars, one day)."""
    return write_demo(tmp_path_factory.mktemp("fleet") / "demo", seed=7, vehicles=200, days=1)


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_demo(tmp_path_factory.mktemp("small") / "demo", seed=3, vehicles=6, days=1)


@pytest.fixture(scope="session")
def key() -> Key:
    """A fixed key, as a runner given ONSHORE_KEY_HMAC_SHA256 sees it."""
    env = {"ONSHORE_KEY_HMAC_SHA256": bytes(range(32)).hex()}
    return Keystore("/nonexistent", environ=env).get(HMAC_KEY)


@pytest.fixture(scope="session")
def pack() -> onshore.Pack:
    return onshore.load_pack()


def areas_of(summary: DemoSummary, pack: onshore.Pack) -> onshore.AreaCatalogue:
    return onshore.load_areas(summary.files["areas.geojson"], kinds=pack.area_buffers())


def reference_trips(table: pa.Table, gap_s: float = 300.0) -> pa.Table:
    """Row-by-row reference segmentation: vin, trip start (ms), first and last position."""
    rows = sorted(
        table.select(["vin", "ts", "lat", "lon", "ignition"]).to_pylist(),
        key=lambda r: (r["vin"], r["ts"]),
    )
    trips: list[dict[str, object]] = []
    prev = None
    for r in rows:
        ms = int(r["ts"].timestamp() * 1000)
        if (
            prev is None
            or r["vin"] != prev["vin"]
            or ms - prev["ms"] > gap_s * 1000
            or prev["ignition"] is False
        ):
            trips.append({"vin": r["vin"], "start": ms, "first": None, "last": None})
        if r["lat"] is not None:
            if trips[-1]["first"] is None:
                trips[-1]["first"] = (r["lon"], r["lat"])
            trips[-1]["last"] = (r["lon"], r["lat"])
        prev = {"vin": r["vin"], "ms": ms, "ignition": r["ignition"]}
    return pa.Table.from_pylist(trips)


def read(path: Path) -> pa.Table:
    return pq.read_table(path)


def distances_m(lon: np.ndarray, lat: np.ndarray, lon0: np.ndarray, lat0: np.ndarray) -> np.ndarray:
    from onshore.geo.ellipsoid import metres_per_degree

    kx, ky = metres_per_degree(lat0)
    return np.hypot((lon - lon0) * kx, (lat - lat0) * ky)
