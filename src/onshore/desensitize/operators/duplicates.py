"""Fold the duplicate rows that generalization makes into one row with a count.

After positions go to a grid and times to buckets, a vehicle sending once a second leaves
hundreds of identical rows per cell and bucket. :class:`Deduplicate` keeps one row of each and
a count column (``row_count`` unless the step names another) saying how many input rows it
stands for. Rows of different data subjects are never folded together, so the risk figures
(unicity, k-anonymity) stay those of the rows before folding. Rows come out in the order of
their first appearance, when the stream ends. Over parts of one stream (Spark partitions) it
is a whole-stream step like ``aggregate``: each part folds its rows, and the parts' folded
rows are merged and folded again where they meet, so every backend gives the same rows.

The step is the last of a profile: it groups on the columns that are released (with
``other_fields: drop``, the columns no earlier step handled are gone already).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from onshore.desensitize.layout import SUBJECT, Layout
from onshore.desensitize.operators.base import Operator, Resources
from onshore.errors import BadInput
from onshore.packs.profiles import OperatorParams

_COUNT = "__onshore_count"
_COMPACT_ROWS = 1 << 20


class DeduplicateParams(OperatorParams):
    """Fold identical released rows (of one data subject) into one, with a ``count`` column
    saying how many rows each stands for."""

    count: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")] = "row_count"


class Deduplicate(Operator):
    """One row per distinct released row and data subject, with the number of rows folded."""

    NAME = "deduplicate"
    params: DeduplicateParams
    whole_stream = True

    def __init__(self, params: DeduplicateParams, other_fields: str = "keep") -> None:
        super().__init__(params)
        self.drop_unhandled = other_fields == "drop"
        self.keys: tuple[str, ...] = ()
        self._parts: list[pa.Table] = []
        self._held_rows = 0
        self._schema: pa.Schema | None = None

    @classmethod
    def build(cls, params: DeduplicateParams, resources: Resources) -> Deduplicate:
        return cls(params, resources.other_fields)

    def bind(self, layout: Layout) -> Layout:
        count = self.params.count
        if self.drop_unhandled:  # group on what is released, not on columns dropped after
            layout = layout.without(tuple(n for n in layout.names if n not in layout.handled))
        if any(n.casefold() == count.casefold() for n in layout.names):
            raise BadInput(
                f"deduplicate: the count column {count!r} is already a column of the output; "
                "name another with 'count'"
            )
        self.keys = layout.names
        return layout.replace(
            names=(*layout.names, count), categories={**layout.categories, count: None}
        ).with_handled([count])

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        self.rows_in += batch.num_rows
        keys = [n for n in self.keys if n in batch.schema.names]
        if SUBJECT in batch.schema.names:
            keys.append(SUBJECT)
        table = pa.Table.from_batches([batch.select(keys)])
        if self._schema is None:
            self._schema = table.schema
        if batch.num_rows == 0:
            return None
        for field in table.schema:
            if pa.types.is_nested(field.type):
                raise BadInput(
                    f"deduplicate: cannot compare values of type {field.type}", field=field.name
                )
        ones = pa.array(np.ones(table.num_rows, dtype=np.int64))
        self._hold(_fold(table.append_column(_COUNT, ones), keys))
        return None

    def _hold(self, table: pa.Table) -> None:
        self._parts.append(table)
        self._held_rows += table.num_rows
        if self._held_rows > _COMPACT_ROWS and len(self._parts) > 1:
            merged = self._folded()
            if merged is not None:
                self._parts, self._held_rows = [merged], merged.num_rows

    def _folded(self) -> pa.Table | None:
        if not self._parts:
            return None
        table = pa.concat_tables(self._parts)
        return _fold(table, [n for n in table.column_names if n != _COUNT])

    def flush(self) -> pa.RecordBatch | None:
        folded = self._folded()
        self._parts, self._held_rows = [], 0
        if folded is None:
            if self._schema is None:
                return None
            folded = self._schema.empty_table().append_column(_COUNT, pa.array([], pa.int64()))
        names = [n for n in folded.column_names if n not in (_COUNT, SUBJECT)]
        order = [*names, _COUNT] + ([SUBJECT] if SUBJECT in folded.column_names else [])
        folded = folded.select(order).rename_columns(
            [self.params.count if n == _COUNT else n for n in order]
        )
        batch = pa.RecordBatch.from_arrays(
            [c.combine_chunks() for c in folded.columns], schema=folded.schema
        )
        self.rows_out += batch.num_rows
        self.details["rows_folded"] = self.rows_in - self.rows_out
        return batch

    def state(self) -> dict[str, Any]:
        """Rows counted and the folded rows held (with their counts), for the merging runner."""
        return {**super().state(), "held": self._folded(), "schema": self._schema}

    def merge(self, state: dict[str, Any]) -> None:
        """Add another part's folded rows: folding the union again gives the whole stream's."""
        super().merge(state)
        if self._schema is None:
            self._schema = state["schema"]
        held = state["held"]
        if held is not None and held.num_rows:
            self._hold(held)


def _fold(table: pa.Table, keys: list[str]) -> pa.Table:
    """One row per distinct ``keys``, in the order of first appearance, counts summed."""
    grouped = table.group_by(keys, use_threads=False).aggregate([(_COUNT, "sum")])
    names = [_COUNT if n == f"{_COUNT}_sum" else n for n in grouped.column_names]
    return grouped.rename_columns(names)
