"""``onshore scan --engine spark``: the same assessment, rows and quarantine as the embedded
engine on one file; a folder of files is one dataset, counted exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from onshore.cli import cli
from onshore.cli._common import run_guarded

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "classify"
VINS = ["1M8GDM9AXKP042788", "LSVAU2180N2183294"]


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _telemetry(path: Path, start: int) -> None:
    n = 6
    pq.write_table(
        pa.table(
            {
                "vin": [VINS[i % 2] for i in range(n)],
                "ts": [f"2026-11-02T08:00:{start + i:02d}Z" for i in range(n)],
                "lat": [39.905, 39.93, float("nan"), 39.951, None, 39.9],
                "lon": [116.305, 116.35, 116.4, 116.401, None, 116.4],
                "Vehicle.Speed": [30.0, 40.0, 50.0, 20.0, 10.0, 0.0],
                "mystery": list(range(n)),
            }
        ),
        path,
    )


def _sorted_rows(path: Path) -> list[dict[str, Any]]:
    table = pq.read_table(path)
    table = table.cast(pa.schema([_plain(f) for f in table.schema]))
    return sorted(table.to_pylist(), key=lambda r: (r["vin"], r["ts"]))


def _plain(f: pa.Field) -> pa.Field:
    t = f.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_list(t) and pa.types.is_dictionary(t.value_type):
        t = pa.list_(t.value_type.value_type)
    if pa.types.is_timestamp(t):
        t = pa.timestamp("ms", tz="UTC")
    return pa.field(f.name, t)


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_scan_equals_embedded(tmp_path: Path, spark: Any) -> None:
    data = tmp_path / "t.parquet"
    _telemetry(data, 0)
    areas = ["--areas", str(VECTORS / "areas.geojson")]
    code, embedded = _run(
        ["scan", str(data), *areas, "--out", str(tmp_path / "e.parquet"), "--json"]
    )
    assert code == 0, embedded
    out = tmp_path / "s.parquet"
    code, on_spark = _run(
        ["scan", str(data), *areas, "--out", str(out), "--json", "--engine", "spark"]
    )
    assert code == 0, on_spark
    e, s = json.loads(embedded), json.loads(on_spark)
    eq, sq = Path(e.pop("quarantine")), Path(s.pop("quarantine"))
    assert s == e
    assert out.is_dir() and (out / "_SUCCESS").exists()
    assert _sorted_rows(out) == _sorted_rows(tmp_path / "e.parquet")
    bad_e = [json.loads(line) for line in eq.read_text().splitlines()]
    bad_s = [json.loads(line) for line in sq.read_text().splitlines()]
    assert [(b["row"], b["field"], b["error"]) for b in bad_s] == [
        (b["row"], b["field"], b["error"]) for b in bad_e
    ]
    assert {Path(b["source"]).name for b in bad_s} == {"t.parquet"}

    # a folder is one dataset: rows add up, distinct vehicles are counted once
    lake = tmp_path / "lake"
    lake.mkdir()
    _telemetry(lake / "part-a.parquet", 0)
    _telemetry(lake / "part-b.parquet", 10)
    code, output = _run(["scan", str(lake), *areas, "--json", "--engine", "spark"])
    assert code == 0, output
    folder = json.loads(output)
    assert folder["rows"] == 2 * e["rows"]
    assert folder["rows_quarantined"] == 2 * e["rows_quarantined"]
    assert folder["distinct_vehicles"] == e["distinct_vehicles"] == 2
    assert folder["distinct_subjects"] == e["distinct_subjects"]
    bad = [json.loads(line) for line in Path(folder["quarantine"]).read_text().splitlines()]
    assert sorted(Path(b["source"]).name for b in bad) == ["part-a.parquet", "part-b.parquet"]
    assert {b["row"] for b in bad} == {2}


def test_spark_engine_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any Spark starts: runs without PySpark or Java."""
    trips = tmp_path / "trips.csv"
    trips.write_text("vin,speed\n1M8GDM9AXKP042788,3\n")
    assert run_guarded(cli, ["scan", str(trips), "--engine", "spark"]) == 2
    assert "Parquet" in capsys.readouterr().err
    assert run_guarded(cli, ["scan", str(trips), "--master", "local[1]"]) == 2
    assert "--engine spark" in capsys.readouterr().err
    missing = tmp_path / "nowhere"
    assert run_guarded(cli, ["scan", str(missing), "--engine", "spark"]) == 2
    assert "folder" in capsys.readouterr().err


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_bad_rows_in_later_arrow_batches_name_their_file_and_row(
    tmp_path: Path, spark: Any
) -> None:
    """A partition arrives in several Arrow batches: a bad row of the second one keeps its file."""
    lake = tmp_path / "lake"
    lake.mkdir()
    _telemetry(lake / "part-a.parquet", 0)  # row 2 (NaN latitude) is bad
    code, output = _run(["scan", str(lake), "--json", "--engine", "spark", "--batch-rows", "2"])
    assert code == 0, output
    bad = [
        json.loads(line) for line in Path(json.loads(output)["quarantine"]).read_text().splitlines()
    ]
    assert [(Path(b["source"]).name, b["row"]) for b in bad] == [("part-a.parquet", 2)]
