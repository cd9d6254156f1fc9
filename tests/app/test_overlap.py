"""Overlapped scan: rows keep their order; an error in any thread aborts the sink and is raised
in the caller; stopping early stops the reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import onshore
from onshore import app
from onshore.app.overlap import BackgroundSink, prefetch
from onshore.app.sinks import Collect, KeepBad
from onshore.io import TableWriter
from onshore.io.chunks import Chunk, chunks

VIN = "1M8GDM9AXKP042788"


def _batches(n: int, rows: int = 100) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    for i in range(n):
        start = i * rows
        yield (
            pa.record_batch(
                {"vin": pa.array([VIN] * rows), "seq": pa.array(np.arange(start, start + rows))}
            ),
            np.arange(start, start + rows, dtype=np.int64),
        )


class Boom(Exception):
    pass


def test_scan_keeps_the_order_of_rows(pack: onshore.Pack) -> None:
    out = Collect()
    result = app.scan(chunks(_batches(25)), pack, quarantine=KeepBad(), out=out)
    assert out.closed
    assert out.table().column("seq").to_pylist() == list(range(2_500))
    assert result.assessment.rows == 2_500


def test_an_error_while_reading_aborts_the_sink(pack: onshore.Pack, tmp_path: Path) -> None:
    def failing() -> Iterator[Chunk]:
        yield from chunks(_batches(3))
        raise Boom("disk gone")

    target = tmp_path / "out.parquet"
    with pytest.raises(Boom):
        app.scan(failing(), pack, quarantine=KeepBad(), out=TableWriter(target))
    assert list(tmp_path.iterdir()) == []


def test_an_error_while_writing_is_raised_in_the_caller(pack: onshore.Pack) -> None:
    class Failing(Collect):
        def write(self, batch: pa.RecordBatch) -> None:
            if len(self.batches) == 2:
                raise Boom("full")
            super().write(batch)

    sink = Failing()
    with pytest.raises(Boom):
        app.scan(chunks(_batches(50)), pack, quarantine=KeepBad(), out=sink)
    assert sink.batches == [] and not sink.closed


def test_stopping_early_closes_the_source() -> None:
    closed = []

    def items() -> Iterator[int]:
        try:
            yield from range(1_000)
        finally:
            closed.append(True)

    with prefetch(items(), depth=2) as it:
        assert next(it) == 0
    assert closed == [True]


def test_background_sink_abort_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    sink = BackgroundSink(TableWriter(target))
    for batch, _rows in _batches(3):
        sink.write(batch)
    sink.abort()
    assert list(tmp_path.iterdir()) == []
