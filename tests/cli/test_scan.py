"""``onshore scan`` end to end: summary, JSON, labelled output, quarantine, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import shapely
from click.testing import CliRunner

from onshore.cli import cli
from onshore.geo.ellipsoid import metres_per_degree

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "classify"
VIN = "1M8GDM9AXKP042788"


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _telemetry(path: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "vin": [VIN] * 4,
                "ts": ["2026-11-02T08:00:00Z"] * 4,
                "lat": [39.905, 39.93, float("nan"), 39.951],
                "lon": [116.305, 116.35, 116.4, 116.401],
                "speed_kmh": [30.0, 40.0, 50.0, 20.0],
                "mystery": [1, 2, 3, 4],
            }
        ),
        path,
    )


def test_scan_json_out_and_quarantine(tmp_path: Path) -> None:
    data = tmp_path / "t.parquet"
    _telemetry(data)
    out = tmp_path / "labelled.parquet"
    code, output = _run(
        [
            "scan",
            str(data),
            "--areas",
            str(VECTORS / "areas.geojson"),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["level"] == "important"
    assert report["rows"] == 3 and report["rows_quarantined"] == 1
    assert report["unknown_fields"] == ["mystery"]
    assert report["areas_hit"] == {"mz-1": 1, "gov-1": 1}
    fired = {r["rule_id"]: r for r in report["record_rules"]}
    assert fired["cn-auto/important/sensitive-area"]["count"] == 2
    assert "Art. 3" in fired["cn-auto/important/sensitive-area"]["ref"]["article"]
    labelled = pq.read_table(out)
    assert labelled.column_names[-4:] == [
        "onshore_level",
        "onshore_reasons",
        "onshore_area",
        "onshore_areas",
    ]
    assert labelled.column("onshore_area").to_pylist() == ["mz-1", None, "gov-1"]
    assert labelled.column("onshore_areas").to_pylist() == [["mz-1"], [], ["gov-1"]]
    quarantine = Path(report["quarantine"])
    assert quarantine == Path(str(out) + ".quarantine.jsonl")
    bad = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert bad == [
        {
            "source": str(data),
            "row": 2,
            "field": "lat",
            "error": "coordinate is NaN",
            "record": bad[0]["record"],
        }
    ]


def test_scan_summary_names_rules_and_references(tmp_path: Path) -> None:
    data = tmp_path / "t.parquet"
    _telemetry(data)
    code, output = _run(
        [
            "scan",
            str(data),
            "--areas",
            str(VECTORS / "areas.geojson"),
            "--quarantine",
            str(tmp_path / "q.jsonl"),
        ]
    )
    assert code == 0, output
    assert "IMPORTANT" in output
    assert "cn-auto/important/sensitive-area" in output
    assert "Art. 3" in output
    assert "mystery" in output


def test_scan_csv_out(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text(f"vin,lat,lon\n{VIN},39.905,116.305\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, output = _run(
        ["scan", str(data), "--areas", str(VECTORS / "areas.geojson"), "--out", str(out)]
    )
    assert code == 0, output
    text = out.read_text()
    assert "cn-auto/important/sensitive-area;" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["scan", "missing.parquet"], "no such file"),
        (["scan", "{data}", "--subject", "nope"], "--subject column not in the input"),
        (["scan", "{data}", "--areas", "{bad_areas}"], "kind"),
        (["scan", "{data}", "--pack", "nope"], "no policy pack"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], words: str) -> None:
    data = tmp_path / "t.parquet"
    _telemetry(data)
    bad_areas = tmp_path / "bad.geojson"
    bad_areas.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "a", "kind": "airport", "name": "x"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                        },
                    }
                ],
            }
        )
    )
    argv = [a.format(data=data, bad_areas=bad_areas) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "onshore", *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr


@pytest.mark.real_data
def test_geolife_beijing_scans_correctly(real_data: Path, tmp_path: Path) -> None:
    """Real GeoLife trajectories: every row is a trajectory point of a user (sensitive personal
    information); a fictional area drawn where the users often were makes exactly the points
    that shapely puts inside (or within 50 m) important."""
    src = real_data / "geolife_beijing" / "geolife_trackintel_10users.parquet"
    table = pq.read_table(src)
    lon = table.column("lon").to_numpy()
    lat = table.column("lat").to_numpy()
    cx, cy = float(np.median(lon)), float(np.median(lat))
    ring = [
        [cx - 0.01, cy - 0.008],
        [cx + 0.012, cy - 0.006],
        [cx + 0.008, cy + 0.01],
        [cx - 0.006, cy + 0.007],
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
                            "id": "test-gov",
                            "kind": "government_organ",
                            "name": "Fictional office",
                            "buffer_m": 50,
                        },
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    out = tmp_path / "geolife.labelled.parquet"
    code, output = _run(
        ["scan", str(src), "--subject", "id", "--areas", str(areas), "--out", str(out), "--json"]
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["rows"] + report["rows_quarantined"] == table.num_rows == 164_531
    assert report["distinct_subjects"] == 11
    assert report["subject_field"] == "id"
    assert report["unknown_fields"] == ["traj"]
    labelled = pq.read_table(out)
    important = pc.equal(labelled.column("onshore_level"), "important").to_numpy(
        zero_copy_only=False
    )
    # oracle: shapely in local metres around the area
    poly = shapely.Polygon(ring)
    llon = labelled.column("lon").to_numpy()
    llat = labelled.column("lat").to_numpy()
    kx_pt, ky_pt = metres_per_degree(llat)
    near = shapely.dwithin(poly, shapely.points(llon, llat), 0.01)  # candidates (degrees)
    expected = np.zeros(len(llon), dtype=bool)
    for i in np.flatnonzero(near):
        local = shapely.transform(
            poly, lambda c, i=i: (c - [llon[i], llat[i]]) * [kx_pt[i], ky_pt[i]]
        )
        expected[i] = local.distance(shapely.Point(0, 0)) <= 50
    assert important.sum() > 100
    assert (important == expected).all()
    rest = labelled.filter(pa.array(~important))
    assert set(rest.column("onshore_level").to_pylist()) == {"sensitive_personal"}


def test_scan_crs_option(tmp_path: Path) -> None:
    data = tmp_path / "gcj.csv"
    data.write_text(f"vin,lat,lon\n{VIN},39.9519047,116.4157473\n", encoding="utf-8")
    args = ["scan", str(data), "--areas", str(VECTORS / "areas.geojson"), "--json"]
    code, output = _run(args)
    assert code == 0 and json.loads(output)["level"] == "sensitive_personal"
    code, output = _run([*args, "--crs", "gcj02"])
    assert code == 0 and json.loads(output)["areas_hit"] == {"gov-1": 1}
