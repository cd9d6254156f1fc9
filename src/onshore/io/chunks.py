"""What every reader yields to a use case: a batch, the input record number of each of its
rows, and the input records that could not be read since the previous chunk.

Readers (:class:`onshore.io.Source` for files, the service's bodies, a broker's messages)
keep the records they could not read in a list they append to as they go; :func:`chunks`
turns such a reader into one stream, so no caller slices that list by hand.

>>> import pyarrow as pa, numpy as np
>>> from onshore.model import BadRecord
>>> bad = []
>>> def batches():
...     yield pa.record_batch({"x": [1, 2]}), np.array([0, 2])
...     bad.append(BadRecord(row=3, field="x", error="not a number"))
>>> [(c.batch.num_rows if c.batch else None, len(c.bad)) for c in chunks(batches(), bad)]
[(2, 0), (None, 1)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from onshore.model import BadRecord


@dataclass(frozen=True)
class Chunk:
    """One step of a read: ``batch`` (``None`` for bad records found after the last batch),
    ``rows`` (0-based input record of each row) and ``bad`` (records that could not be read)."""

    batch: pa.RecordBatch | None
    rows: np.ndarray | None
    bad: tuple[BadRecord, ...] = ()


class Reader(Protocol):
    """A reader: batches with their row numbers, and the bad records found so far."""

    bad: list[BadRecord]

    def batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]: ...


def chunks(
    batches: Iterable[tuple[pa.RecordBatch, np.ndarray | None]], bad: list[BadRecord] | None = None
) -> Iterator[Chunk]:
    """The chunks of ``batches`` with the records appended to ``bad`` while each was read."""
    seen = 0
    bad = bad if bad is not None else []
    for batch, rows in batches:
        new = tuple(bad[seen:])
        seen = len(bad)
        yield Chunk(batch, rows, new)
    if len(bad) > seen:
        yield Chunk(None, None, tuple(bad[seen:]))


def chunks_of(reader: Reader) -> Iterator[Chunk]:
    """The chunks of a reader (a file :class:`~onshore.io.Source`, a request body …)."""
    return chunks(reader.batches(), reader.bad)
