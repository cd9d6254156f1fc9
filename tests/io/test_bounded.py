"""Memory is bounded by the row group or the block, never by the file (issue 21).

Structural checks, not timings: the Parquet reader asks for one row group at a time, and the
bytes Arrow holds while any reader streams a file do not grow when the file does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from onshore.io import TableWriter, open_source

VIN = "1M8GDM9AXKP042788"


def _table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "vin": pa.array([VIN] * rows),
            "lat": rng.uniform(39.0, 40.0, rows),
            "lon": rng.uniform(116.0, 117.0, rows),
            "speed_kmh": rng.uniform(0.0, 120.0, rows),
        }
    )


def _write(path: Path, fmt: str, copies: int, rows: int = 20_000) -> None:
    table = _table(rows)
    if fmt == "parquet":
        with pq.ParquetWriter(path, table.schema) as writer:
            for _ in range(copies):
                writer.write_table(table, row_group_size=rows)
    elif fmt == "csv":
        with pcsv.CSVWriter(path, table.schema) as writer:
            for _ in range(copies):
                writer.write_table(table)
    else:
        lines = "".join(json.dumps(row) + "\n" for row in table.to_pylist())
        with open(path, "w", encoding="utf-8") as fh:
            for _ in range(copies):
                fh.write(lines)


def _peak_allocated(path: Path) -> tuple[int, int]:
    """Most bytes Arrow's pool held while the file streamed (one batch kept at a time).

    Blocks of 64 KiB: Arrow's CSV reader reads up to 32 blocks ahead, so both files span more
    blocks than that, as any file of a few hundred megabytes does at the default 8 MiB."""
    pool = pa.default_memory_pool()
    base = pool.bytes_allocated()
    peak = 0
    rows = 0
    source = open_source(path, batch_rows=8_192, block_bytes=1 << 16, sample_bytes=1 << 14)
    for batch, _rows in source.batches():
        rows += batch.num_rows
        peak = max(peak, pool.bytes_allocated() - base)
        del batch
    return peak, rows


def test_parquet_reads_one_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.parquet"
    _write(path, "parquet", copies=5, rows=3_000)
    asked: list[object] = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs.get("row_groups"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    source = open_source(path, batch_rows=1_000)
    rows = np.concatenate([r for _, r in source.batches()])
    assert asked == [[0], [1], [2], [3], [4]]
    assert rows.tolist() == list(range(15_000))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_arrow_memory_does_not_grow_with_the_file(tmp_path: Path, fmt: str) -> None:
    small, large = tmp_path / f"small.{fmt}", tmp_path / f"large.{fmt}"
    _write(small, fmt, copies=2)
    _write(large, fmt, copies=8)
    peak_small, rows_small = _peak_allocated(small)
    peak_large, rows_large = _peak_allocated(large)
    assert (rows_small, rows_large) == (40_000, 160_000)
    # Four times the rows, the same peak: a batch or block's worth, not the file's.
    assert peak_large <= peak_small * 1.25 + (1 << 20)


def test_parquet_output_has_large_row_groups_and_dictionary_labels(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    level = pa.DictionaryArray.from_arrays(
        pa.array([0, 1] * 500, pa.int8()), pa.array(["general", "personal"])
    )
    batch = pa.record_batch({"x": pa.array(np.arange(1_000)), "onshore_level": level})
    writer = TableWriter(path, row_group_rows=4_000)
    for _ in range(10):
        writer.write(batch)
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4_000, 4_000, 2_000]
    column = meta.row_group(0).column(1)
    assert "RLE_DICTIONARY" in column.encodings or "PLAIN_DICTIONARY" in column.encodings
    table = pq.read_table(path)
    assert pa.types.is_dictionary(table.schema.field("onshore_level").type)
    assert table.column("x").to_pylist() == list(range(1_000)) * 10
