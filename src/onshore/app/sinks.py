"""Where a use case writes: a table sink (a file, a buffer) and the quarantine.

A :class:`Sink` takes batches and is either closed (the output appears whole) or aborted
(nothing appears); :class:`~onshore.io.TableWriter` is one. :class:`Collect` keeps the batches in
memory (the service answers with them); :class:`Quarantine` is anything that takes bad records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from onshore.model import BadRecord


class Sink(Protocol):
    """Takes batches; ``close`` makes the output appear whole, ``abort`` leaves nothing."""

    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self, schema: pa.Schema | None = None) -> None: ...

    def abort(self) -> None: ...


class Quarantine(Protocol):
    """Takes the records that could not be read or processed, with their reasons."""

    count: int

    def write(self, records: Sequence[BadRecord]) -> None: ...

    def close(self) -> None: ...


@dataclass
class Collect:
    """A sink that keeps what it is given (for answers held in memory)."""

    batches: list[pa.RecordBatch] = field(default_factory=list)
    schema: pa.Schema | None = None
    closed: bool = False

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def close(self, schema: pa.Schema | None = None) -> None:
        self.schema = schema
        self.closed = True

    def abort(self) -> None:
        self.batches.clear()

    def table(self) -> pa.Table:
        """What was written, as one table (an empty one when nothing was)."""
        if self.batches:
            return pa.Table.from_batches(self.batches)
        return self.schema.empty_table() if self.schema is not None else pa.table({})


@dataclass
class KeepBad:
    """A quarantine that keeps the first ``limit`` records in memory and counts the rest."""

    limit: int = 100
    records: list[BadRecord] = field(default_factory=list)
    count: int = 0

    def write(self, records: Sequence[BadRecord]) -> None:
        room = self.limit - len(self.records)
        if room > 0:
            self.records.extend(records[:room])
        self.count += len(records)

    def close(self) -> None:
        return None
