"""Field operators: drop, keep, round, bucket, bucket_time. Each is idempotent.

>>> import pyarrow as pa
>>> from onshore.packs import load_pack
>>> op = Round(RoundParams(fields=["speed"], step=5), load_pack())
>>> op.targets = ("speed",)
>>> op.transform(pa.record_batch({"speed": [42.0, 43.0, None]})).column(0).to_pylist()
[40.0, 45.0, None]
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from onshore.classify.coerce import to_timestamp
from onshore.desensitize.layout import Layout
from onshore.desensitize.operators.base import Operator, Resources, set_column
from onshore.errors import BadInput
from onshore.packs import Pack
from onshore.packs.profiles import OperatorParams, Selector


class _FieldOperator(Operator):
    """An operator on the columns its selector picks."""

    params: Selector

    def __init__(self, params: Selector, pack: Pack) -> None:
        super().__init__(params)
        self.pack = pack
        self.targets: tuple[str, ...] = ()

    def bind(self, layout: Layout) -> Layout:
        self.targets = layout.select(self.pack, self.params.categories, self.params.fields)
        self.details["columns"] = list(self.targets)
        return layout.with_handled(self.targets)


class DropParams(Selector):
    """Remove columns (a field, or every field of a category)."""


class Drop(_FieldOperator):
    """Remove the selected columns (a field, or every field of a category)."""

    NAME = "drop"

    @classmethod
    def build(cls, params: DropParams, resources: Resources) -> Drop:
        return cls(params, resources.pack)

    def bind(self, layout: Layout) -> Layout:
        layout = super().bind(layout)
        return layout.without(self.targets)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        present = [t for t in self.targets if t in batch.schema.names]
        return batch.drop_columns(present) if present else batch


class KeepParams(Selector):
    """Keep columns as they are (an explicit allow for profiles with ``other_fields: drop``)."""


class Keep(_FieldOperator):
    """Keep the selected columns unchanged (an allow-list entry)."""

    NAME = "keep"

    @classmethod
    def build(cls, params: KeepParams, resources: Resources) -> Keep:
        return cls(params, resources.pack)


def _numeric(batch: pa.RecordBatch, name: str) -> pa.Array:
    column = batch.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise BadInput(f"cannot round or bucket a {column.type} column", field=name)
    return column


class RoundParams(Selector):
    """Round numbers to a multiple of ``step``."""

    step: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Round(_FieldOperator):
    """Round numbers to the nearest multiple of ``step`` (integers stay integers)."""

    NAME = "round"
    params: RoundParams

    def __init__(self, params: RoundParams, pack: Pack) -> None:
        super().__init__(params, pack)

    @classmethod
    def build(cls, params: RoundParams, resources: Resources) -> Round:
        return cls(params, resources.pack)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        step = self.params.step
        for name in self.targets:
            column = _numeric(batch, name)
            values = pc.multiply(pc.round(pc.divide(pc.cast(column, pa.float64()), step)), step)
            if pa.types.is_integer(column.type):
                values = pc.cast(pc.round(values), column.type)
            batch = set_column(batch, name, values)
        return batch


class BucketParams(Selector):
    """Replace a number by the lower edge of its bucket; below the first edge becomes null."""

    edges: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=2)

    @model_validator(mode="after")
    def _increasing(self) -> BucketParams:
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        return self


class Bucket(_FieldOperator):
    """Replace each number by the lower edge of its bucket; below the first edge: null."""

    NAME = "bucket"
    params: BucketParams

    def __init__(self, params: BucketParams, pack: Pack) -> None:
        super().__init__(params, pack)

    @classmethod
    def build(cls, params: BucketParams, resources: Resources) -> Bucket:
        return cls(params, resources.pack)

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


class BucketTimeParams(OperatorParams):
    """Floor timestamps to ``every_s`` seconds (the time column, plus any ``fields``)."""

    every_s: Annotated[int, Field(gt=0)]
    fields: list[str] = Field(default_factory=list)


class BucketTime(Operator):
    """Floor the time column (and any named timestamp fields) to ``every_s`` seconds."""

    NAME = "bucket_time"
    params: BucketTimeParams

    def __init__(self, params: BucketTimeParams) -> None:
        super().__init__(params)
        self.targets: tuple[str, ...] = ()

    @classmethod
    def build(cls, params: BucketTimeParams, resources: Resources) -> BucketTime:
        return cls(params)

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
