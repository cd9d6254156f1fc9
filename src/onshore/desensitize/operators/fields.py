"""Field operators: drop, keep, round, bucket, bucket_time. Each is idempotent.

>>> import pyarrow as pa
>>> from onshore.packs import load_pack
>>> from onshore.packs.profiles import RoundStep
>>> op = Round(RoundStep(op="round", fields=["speed"], step=5), load_pack())
>>> op.targets = ("speed",)
>>> op.transform(pa.record_batch({"speed": [42.0, 43.0, None]})).column(0).to_pylist()
[40.0, 45.0, None]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.classify.coerce import to_timestamp
from onshore.desensitize.layout import Layout
from onshore.desensitize.operators.base import Operator, set_column
from onshore.errors import BadInput
from onshore.packs import Pack
from onshore.packs.profiles import BucketStep, BucketTimeStep, DropStep, KeepStep, RoundStep


class _FieldOperator(Operator):
    """An operator on the columns its selector picks."""

    params: DropStep | KeepStep | RoundStep | BucketStep

    def __init__(self, params: DropStep | KeepStep | RoundStep | BucketStep, pack: Pack) -> None:
        super().__init__(params)
        self.pack = pack
        self.targets: tuple[str, ...] = ()

    def bind(self, layout: Layout) -> Layout:
        self.targets = layout.select(self.pack, self.params.categories, self.params.fields)
        self.details["columns"] = list(self.targets)
        return layout.with_handled(self.targets)


class Drop(_FieldOperator):
    """Remove the selected columns (a field, or every field of a category)."""

    def bind(self, layout: Layout) -> Layout:
        layout = super().bind(layout)
        return layout.without(self.targets)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        present = [t for t in self.targets if t in batch.schema.names]
        return batch.drop_columns(present) if present else batch


class Keep(_FieldOperator):
    """Keep the selected columns unchanged (an allow-list entry)."""


def _numeric(batch: pa.RecordBatch, name: str) -> pa.Array:
    column = batch.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise BadInput(f"cannot round or bucket a {column.type} column", field=name)
    return column


class Round(_FieldOperator):
    """Round numbers to the nearest multiple of ``step`` (integers stay integers)."""

    params: RoundStep

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        step = self.params.step
        for name in self.targets:
            column = _numeric(batch, name)
            values = pc.multiply(pc.round(pc.divide(pc.cast(column, pa.float64()), step)), step)
            if pa.types.is_integer(column.type):
                values = pc.cast(pc.round(values), column.type)
            batch = set_column(batch, name, values)
        return batch


class Bucket(_FieldOperator):
    """Replace each number by the lower edge of its bucket; below the first edge: null."""

    params: BucketStep

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        edges = np.asarray(self.params.edges, dtype=np.float64)
        for name in self.targets:
            column = _numeric(batch, name)
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            idx = np.searchsorted(edges, values, side="right") - 1
            mask = np.isnan(values) | (idx < 0)
            out = pa.array(edges[np.clip(idx, 0, None)], mask=mask)
            batch = set_column(batch, name, out)
        return batch


class BucketTime(Operator):
    """Floor the time column (and any named timestamp fields) to ``every_s`` seconds."""

    params: BucketTimeStep

    def __init__(self, params: BucketTimeStep, pack: Pack) -> None:
        super().__init__(params)
        self.targets: tuple[str, ...] = ()

    def bind(self, layout: Layout) -> Layout:
        wanted = {f.casefold() for f in self.params.fields}
        names = [n for n in layout.names if n.casefold() in wanted]
        if layout.ts is not None and layout.ts not in names:
            names.insert(0, layout.ts)
        self.targets = tuple(names)
        self.details["columns"] = list(self.targets)
        return layout.with_handled(self.targets)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        every = self.params.every_s * 1000
        for name in self.targets:
            ts, _bad = to_timestamp(batch.column(name))
            ms = pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False)
            valid = np.asarray(pc.is_valid(ts).to_numpy(zero_copy_only=False), dtype=bool)
            floored = np.floor_divide(np.where(valid, ms, 0), every) * every
            out = pa.array(floored, type=pa.int64(), mask=~valid).cast(ts.type)
            batch = set_column(batch, name, out)
        return batch
