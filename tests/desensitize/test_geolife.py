"""The user's checks on real data: GeoLife Beijing trajectories (skipped when absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import onshore
from onshore.geo import AreaIndex
from onshore.geo.crs import to_wgs84

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "geolife_beijing"
pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def geolife() -> Path:
    path = REAL / "geolife_trackintel_10users.parquet"
    if not path.is_file():
        pytest.skip(f"GeoLife sample not present at {REAL}")
    return path


def test_export_default_on_geolife(geolife: Path, tmp_path: Path) -> None:
    table = pq.read_table(geolife)
    cx = float(np.median(table.column("lon").to_numpy()))
    cy = float(np.median(table.column("lat").to_numpy()))
    ring = [
        [cx - 0.01, cy - 0.008],
        [cx + 0.012, cy - 0.006],
        [cx + 0.008, cy + 0.01],
        [cx - 0.01, cy - 0.008],
    ]
    areas = tmp_path / "areas.geojson"
    areas.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "id": "t",
                            "kind": "government_organ",
                            "name": "Fictional",
                            "buffer_m": 50,
                        },
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    out = tmp_path / "geolife.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "onshore",
            "desensitize",
            str(geolife),
            "--subject",
            "id",
            "--profile",
            "export-default",
            "--areas",
            str(areas),
            "--out",
            str(out),
            "--home",
            str(tmp_path / "home"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["promise"]["kept"] and report["rows"]["in"] == table.num_rows
    safe = pq.read_table(out)
    assert "id" not in safe.column_names and "traj" not in safe.column_names
    ids = set(table.column("id").to_pylist())
    assert not ids & set(pc.unique(safe.column("id_pseudonym")).to_pylist())
    lon, lat, _ = to_wgs84(safe.column("lon").to_numpy(), safe.column("lat").to_numpy(), "gcj02")
    catalogue = onshore.load_areas(areas, kinds=onshore.load_pack().area_buffers())
    assert not (AreaIndex.build(catalogue).lookup(lon, lat).area >= 0).any()
    unicity = report["risk"]["unicity"]
    before = {u["p"]: u["unicity"] for u in unicity["before"]}
    after = {u["p"]: u["unicity"] for u in unicity["after"]}
    assert before[4] == 1.0 and after[4] < before[4]
