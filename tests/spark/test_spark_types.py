"""Spark output keeps the input's types: a ``timestamp[ms, UTC]`` column comes back as a UTC
timestamp (``TIMESTAMP_MICROS``), never as Spark's legacy naive ``INT96``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from onshore.cli import cli

VINS = ["1M8GDM9AXKP042788", "LSVAU2180N2183294"]


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_scan_keeps_utc_timestamps(tmp_path: Path, spark: Any) -> None:
    data = tmp_path / "t.parquet"
    times = [datetime(2026, 11, 2, 8, 0, i, 123_000, tzinfo=UTC) for i in range(4)]
    pq.write_table(
        pa.table(
            {
                "vin": [VINS[i % 2] for i in range(4)],
                "ts": pa.array(times, pa.timestamp("ms", tz="UTC")),
                "Vehicle.Speed": [30.0, 40.0, 50.0, 20.0],
            }
        ),
        data,
    )
    out = tmp_path / "s.parquet"
    result = CliRunner().invoke(
        cli, ["scan", str(data), "--out", str(out), "--json", "--engine", "spark"]
    )
    assert result.exit_code == 0, result.output
    parts = sorted(out.glob("part-*.parquet"))
    assert parts
    for part in parts:
        schema = pq.ParquetFile(part).schema
        column = schema.column(schema.names.index("ts"))
        assert column.physical_type == "INT64", column  # not INT96
        logical = json.loads(column.logical_type.to_json())
        assert logical["Type"] == "Timestamp" and logical["isAdjustedToUTC"], logical
    table = pq.read_table(out)
    ts_type = table.schema.field("ts").type
    assert pa.types.is_timestamp(ts_type) and ts_type.tz == "UTC", ts_type
    assert ts_type.unit in ("ms", "us")
    assert sorted(table.column("ts").to_pylist()) == times
