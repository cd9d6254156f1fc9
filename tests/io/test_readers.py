"""Streaming readers: bad rows are found, numbered and quarantined; nothing else is lost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import onshore
from onshore.errors import BadInput
from onshore.io import open_source

VIN = "1M8GDM9AXKP042788"


def _drain(path: Path, **kw):  # type: ignore[no-untyped-def]
    source = open_source(path, **kw)
    batches = list(source.batches())
    rows = np.concatenate([r for _, r in batches]) if batches else np.zeros(0)
    return source, batches, rows


def test_csv_bad_rows_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "vin,ts,lat,lon,speed\n"
        f"{VIN},2026-11-02T08:00:00Z,39.9,116.4,10\n"
        f"{VIN},2026-11-02T08:00:01Z,39.9,116.4\n"  # row 1: missing field
        f"{VIN},2026-11-02T08:00:02Z,39.9,116.4,fast\n"  # row 2: wrong type
        f"{VIN},2026-11-02T08:00:03Z,39.9,116.4,12\n",
        encoding="utf-8",
    )
    # types come from the first two lines only, so "fast" arrives after inference
    source, batches, rows = _drain(path, block_bytes=1 << 16, sample_bytes=80)
    assert rows.tolist() == [0, 3]
    bad = {b.row: b for b in source.bad}
    assert bad[1].line == 3 and "expected 5 fields" in bad[1].error
    assert bad[2].field == "speed"
    assert batches[0][0].schema.field("speed").type == pa.int64()


def test_csv_streams_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ["vin,lat,lon"] + [f"{VIN},{39 + i * 1e-6:.6f},116.4" for i in range(20_000)]
    lines[15_001] = f"{VIN},north,116.4"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_source(path, block_bytes=1 << 14, sample_bytes=1 << 12)
    result = onshore.classify(b for b, _ in source.batches())
    assert result.assessment.rows == 19_999
    assert [b.row for b in source.bad] == [15_000]
    assert source.bad[0].field == "lat"


def test_jsonl_bisects_to_the_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = [json.dumps({"vin": VIN, "lat": 39.9 + i * 1e-4, "lon": 116.4}) for i in range(500)]
    good[100] = '{"vin": "' + VIN + '", "lat": 39.9, "lon": '  # truncated
    good[300] = json.dumps({"vin": VIN, "lat": "north", "lon": 116.4})
    path.write_text("\n".join(good) + "\n", encoding="utf-8")
    source, batches, _rows = _drain(path, block_bytes=4096)
    assert sum(b.num_rows for b, _ in batches) == 498
    lines = sorted(b.line for b in source.bad)
    assert lines == [101, 301]
    by_line = {b.line: b for b in source.bad}
    assert "not JSON" in by_line[101].error
    assert by_line[301].field == "lat"


def test_parquet_streams_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    n = 10_000
    pq.write_table(
        pa.table({"vin": [VIN] * n, "lat": np.linspace(39, 40, n), "lon": [116.4] * n}),
        path,
        row_group_size=1000,
    )
    source, batches, rows = _drain(path, batch_rows=1000)
    assert len(batches) == 10 and rows.tolist() == list(range(n))
    assert source.done == source.total == n


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        open_source(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(BadInput, match="--format"):
        open_source(tmp_path / "data.xlsx")


def test_values_that_are_bad_in_many_ways(tmp_path: Path) -> None:
    table = pa.table(
        {
            "vin": [VIN, "SHORT", None, VIN, VIN, VIN, VIN],
            "ts": [
                "2026-11-02T08:00:00Z",
                "2026-11-02T08:00:00Z",
                "2026-11-02T08:00:00Z",
                "not a time",
                "2026-11-02T08:00:00Z",
                "2026-11-02T08:00:00Z",
                None,
            ],
            "lat": [39.9, 39.9, 39.9, 39.9, float("nan"), 95.0, 39.9],
            "lon": [116.4, 116.4, 116.4, 116.4, 116.4, 116.4, 116.4],
        }
    )
    result = onshore.classify(table)
    errors = {b.row: (b.field, b.error) for b in result.bad}
    assert errors[1][0] == "vin" and "not a VIN" in errors[1][1]
    assert errors[2] == ("vin", "VIN is missing")
    assert errors[3][0] == "ts"
    assert errors[4] == ("lat", "coordinate is NaN")
    assert errors[5][0] == "lat" and "out of range" in errors[5][1]
    assert errors[6] == ("ts", "timestamp is missing")
    assert result.rows.tolist() == [0]
    assert result.assessment.rows == 1
