"""The shape every operator shares: a parameter model checked when the pack loads, and an
operator that binds to a layout once, then transforms batches.

An operator declares, beside its code, its ``NAME`` (the ``op:`` of a profile step), its
parameter model (a subclass of :class:`~onshore.packs.profiles.OperatorParams`) and a
``build`` that makes it from validated parameters and the :class:`Resources` of the run;
:func:`~onshore.desensitize.registry.register_operator` ties the three together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel

from onshore.desensitize.layout import Layout
from onshore.geo.areas import AreaCatalogue
from onshore.keystore import Key
from onshore.packs import Pack


@dataclass(frozen=True)
class Resources:
    """What operators may need besides their parameters (passed in, never read globally)."""

    pack: Pack
    key: Key | None = None
    areas: AreaCatalogue | None = None
    boundaries: AreaCatalogue | None = None
    guard_m: float = 0.0
    other_fields: str = "keep"
    """The profile's ``other_fields``: ``drop`` when columns no step handles are not released."""


@dataclass(frozen=True)
class OperatorReport:
    """What one step did: its parameters (never keys), rows in and out, and its own figures."""

    op: str
    params: dict[str, Any]
    rows_in: int
    rows_out: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "params": self.params,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "details": self.details,
        }


class Operator:
    """Base class. ``bind`` resolves columns (once per schema); ``apply`` maps a batch to a
    batch; stateful operators hold rows back in ``apply`` and release them in ``flush``."""

    NAME: ClassVar[str]
    """The ``op:`` that names this operator in a profile step (what it registers under)."""
    params: BaseModel
    whole_stream: ClassVar[bool] = False
    """True when the output depends on the whole stream at once (``aggregate``): a runner over
    parts of one stream merges the parts' :meth:`state` and flushes the step once."""

    def __init__(self, params: BaseModel) -> None:
        self.params = params
        self.rows_in = 0
        self.rows_out = 0
        self.details: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.NAME

    def bind(self, layout: Layout) -> Layout:
        """The layout after this step; remember the columns the step works on."""
        return layout

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Override: the vectorized work on one batch."""
        return batch

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        self.rows_in += batch.num_rows
        out = self.transform(batch)
        self.rows_out += out.num_rows
        return out

    def flush(self) -> pa.RecordBatch | None:
        """Rows held back, at the end of the stream (stateful operators)."""
        return None

    def state(self) -> dict[str, Any]:
        """What this step counted (and, for whole-stream steps, holds), to :meth:`merge` into
        the same step of a runner that combines the parts of one stream."""
        return {"rows_in": self.rows_in, "rows_out": self.rows_out, "details": dict(self.details)}

    def merge(self, state: dict[str, Any]) -> None:
        """Add the :meth:`state` of this step run over another part; steps whose details count
        rows override it to add those counts up."""
        self.rows_in += state["rows_in"]
        self.rows_out += state["rows_out"]
        for key, value in state["details"].items():
            self.details.setdefault(key, value)

    def report(self) -> OperatorReport:
        return OperatorReport(
            op=self.name,
            params={"op": self.NAME, **self.params.model_dump(mode="json")},
            rows_in=self.rows_in,
            rows_out=self.rows_out,
            details=dict(self.details),
        )


def set_column(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    """Replace column ``name`` (or append it) keeping the order of the others."""
    names = batch.schema.names
    if name in names:
        i = names.index(name)
        return batch.set_column(i, name, values)
    return batch.append_column(name, values)
