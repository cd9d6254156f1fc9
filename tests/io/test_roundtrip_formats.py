"""Every output format of Onshore is a valid input of Onshore.

Each command that writes a table (``gbt32960 decode --out``, ``scan --out``, ``desensitize
--out``) is run in every format of the writers' registry (:data:`onshore.io.writers.FORMATS`,
so a new format cannot be forgotten), and what it wrote goes into ``store put`` (and ``scan``):
every row must be stored, none quarantined.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onshore import gbt32960 as g
from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.io.writers import FORMATS

VIN = "1M8GDM9AXKP042788"
REAL_FRAMES = "gbt32960_frames/frames.txt"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_guarded(cli, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _put(capsys: pytest.CaptureFixture[str], path: Path, home: Path, dataset: str) -> dict:
    code, out, err = _run(
        capsys, "store", "put", str(path), "--dataset", dataset, "--home", str(home), "--json"
    )
    assert code == 0, f"{path.name}: exit {code}: {err}"
    return json.loads(out)


def _telemetry(path: Path) -> None:
    n = 6
    pq.write_table(
        pa.table(
            {
                "vin": [VIN] * n,
                "ts": [f"2026-11-02T08:0{i}:00Z" for i in range(n)],
                "lat": [39.90 + 0.001 * i for i in range(n)],
                "lon": [116.30 + 0.001 * i for i in range(n)],
                "crs": [None, "wgs84", "WGS-84", None, "gcj02", None],
                "Vehicle.Speed": [30.0 + i for i in range(n)],
            }
        ),
        path,
    )


def _frames(path: Path) -> int:
    """Hex lines of 2016 real-time frames with a position (and one login, which has no row)."""
    lines = []
    for i in range(3):
        pos = g.Position(status=0, longitude=116.4 + i / 1000, latitude=39.9)
        report = g.RealTimeReport(datetime(2024, 5, 1, 8, 0, i), (pos,))
        frame = g.encode_frame(g.Frame(g.Edition.V2016, 2, 0xFE, VIN, 1, report))
        lines.append(frame.hex().upper())
    path.write_text("\n".join(lines) + "\n")
    return 3


def test_registry_names_every_format_the_readers_read() -> None:
    from onshore.io.readers import FORMATS as READ

    assert set(FORMATS) == set(READ.values())
    for fmt, ext in FORMATS.items():
        assert READ[ext] == fmt


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_decoded_frames_go_back_in(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _frames(tmp_path / "frames.txt")
    out = tmp_path / "out" / f"records{FORMATS[fmt]}"
    code, _, err = _run(
        capsys, "gbt32960", "decode", str(tmp_path / "frames.txt"), "--out", str(out)
    )
    assert code == 0, err
    assert f"wrote {rows} row(s)" in err
    result = _put(capsys, out, tmp_path / "home", "gbt32960")
    assert result["rows_stored"] == rows and result["rows_quarantined"] == 0


@pytest.mark.real_data
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_real_frames_go_back_in(
    fmt: str, real_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The captured frames of PROVENANCE.md: 14 decode (lines 99-112), 11 of them real-time."""
    frames = real_data / REAL_FRAMES
    if not frames.exists():
        pytest.skip(f"{frames} not present")
    out = tmp_path / f"records{FORMATS[fmt]}"
    code, _, err = _run(
        capsys, "gbt32960", "decode", str(frames), "--keep-going", "--out", str(out)
    )
    assert code == 0, err
    written = pq.read_table(out).num_rows if fmt == "parquet" else None
    result = _put(capsys, out, tmp_path / "home", "gbt32960")
    assert result["rows_quarantined"] == 0
    assert result["rows_stored"] == result["rows_read"] == 11
    assert written in (None, 11)


def test_decoded_json_lines_records_go_back_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default output's "record" objects, taken out one per line, store as they are."""
    _frames(tmp_path / "frames.txt")
    code, out, err = _run(capsys, "gbt32960", "decode", str(tmp_path / "frames.txt"))
    assert code == 0, err
    records = [json.loads(line)["record"] for line in out.splitlines()]
    assert {r["crs"] for r in records} == {"wgs84"}  # GB/T 32960.3-2016 positions are WGS-84
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = _put(capsys, path, tmp_path / "home", "gbt32960")
    assert result["rows_stored"] == 3 and result["rows_quarantined"] == 0


def test_a_null_crs_is_the_declared_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The decoder of before wrote "crs": null; such rows are stored (WGS-84), not refused."""
    path = tmp_path / "nulls.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "vin": VIN,
                    "ts": f"2026-11-02T08:00:0{i}Z",
                    "lat": 39.9,
                    "lon": 116.4,
                    "crs": None,
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    result = _put(capsys, path, tmp_path / "home", "t")
    assert result["rows_stored"] == 3 and result["rows_quarantined"] == 0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_scan_output_goes_back_in(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.parquet"
    _telemetry(src)
    out = tmp_path / f"scanned{FORMATS[fmt]}"
    code, _, err = _run(capsys, "scan", str(src), "--out", str(out), "--json")
    assert code == 0, err
    result = _put(capsys, out, tmp_path / "home", "scanned")
    assert result["rows_stored"] == 6 and result["rows_quarantined"] == 0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_desensitize_output_goes_back_in(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.parquet"
    _telemetry(src)
    areas = tmp_path / "areas.geojson"
    square = [[116.0, 40.5], [116.1, 40.5], [116.1, 40.6], [116.0, 40.6], [116.0, 40.5]]
    feature = {
        "type": "Feature",
        "properties": {"id": "a1", "kind": "military_zone", "name": "A"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    out = tmp_path / f"safe{FORMATS[fmt]}"
    code, _, err = _run(
        capsys,
        "desensitize",
        str(src),
        "--profile",
        "internal-analytics",
        "--out",
        str(out),
        "--areas",
        str(areas),
        "--home",
        str(tmp_path / "home"),
    )
    assert code == 0, err
    assert out.exists()
    result = _put(capsys, out, tmp_path / "home", "safe")
    assert result["rows_quarantined"] == 0
    assert result["rows_stored"] == result["rows_read"] > 0


def test_a_put_that_stores_nothing_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"vin": VIN, "ts": "2026-11-02T08:00:00Z", "lat": 39.9, "lon": 116.4, "crs": "bd09"}
            )
            + "\n"
            for _ in range(4)
        )
    )
    code, _, err = _run(
        capsys, "store", "put", str(path), "--dataset", "t", "--home", str(tmp_path / "home")
    )
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert "stored 0 rows: all 4 rows were quarantined" in line
    assert "field 'crs': unknown coordinate system" in line and "(4x)" in line


def test_an_empty_input_is_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("vin,ts,lat,lon\n")
    code, _, err = _run(
        capsys, "store", "put", str(path), "--dataset", "t", "--home", str(tmp_path / "home")
    )
    assert code == 0
    assert "the input holds no rows" in err


def test_a_scan_that_classifies_nothing_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("vin,ts,lat,lon\n" + f"{VIN},2026-11-02T08:00:00Z,95.0,116.4\n" * 3)
    code, _, err = _run(capsys, "scan", str(path), "--quarantine", str(tmp_path / "q.jsonl"))
    assert code == 2
    assert "classified 0 rows: all 3 rows were quarantined" in err
    assert "field 'lat': coordinate out of range" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("vin,ts,lat,lon\n")
    code, _, err = _run(capsys, "scan", str(empty))
    assert code == 0 and "the input holds no rows" in err


def test_subject_export_goes_back_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A data subject's export holds their stored rows as Parquet: each file stores again."""
    src = tmp_path / "t.parquet"
    _telemetry(src)
    _put(capsys, src, tmp_path / "home", "telemetry")
    out = tmp_path / "export"
    code, _, err = _run(
        capsys,
        "subject",
        "export",
        "--vin",
        VIN,
        "--out",
        str(out),
        "--home",
        str(tmp_path / "home"),
    )
    assert code == 0, err
    files = sorted(out.rglob("*.parquet"))
    assert files, "the export holds no rows"
    stored = 0
    for i, path in enumerate(files):
        result = _put(capsys, path, tmp_path / "again", f"back{i}")
        assert result["rows_quarantined"] == 0
        stored += result["rows_stored"]
    assert stored == 6
