"""Classification: what each field, record and dataset is under the pack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from onshore.classify.engine import BatchResult, Classifier, classify_batches
from onshore.classify.plan import LABEL_COLUMNS, FieldPlan, build_plan
from onshore.model import Assessment, BadRecord
from onshore.packs import Pack, load_pack

if TYPE_CHECKING:
    from onshore.geo import AreaCatalogue, AreaIndex

__all__ = [
    "LABEL_COLUMNS",
    "BatchResult",
    "Classification",
    "Classifier",
    "FieldPlan",
    "build_plan",
    "classify",
    "classify_batches",
]


@dataclass(frozen=True)
class Classification:
    """The result of :func:`classify`: good rows, their labels, the bad rows, the assessment."""

    data: pa.Table
    labels: pa.Table
    rows: np.ndarray
    bad: tuple[BadRecord, ...]
    assessment: Assessment

    def labelled(self) -> pa.Table:
        """Input columns followed by ``onshore_level``, ``onshore_reasons``, ``onshore_area``,
        ``onshore_areas``."""
        table = self.data
        for name in self.labels.column_names:
            table = table.append_column(name, self.labels.column(name))
        return table


def classify(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
    pack: Pack | None = None,
    *,
    areas: AreaIndex | AreaCatalogue | None = None,
    subject: str | None = None,
    source: str | None = None,
    crs: str = "wgs84",
) -> Classification:
    """Classify an Arrow table or a stream of record batches.

    ``crs`` declares the coordinate system of positions without a ``crs`` column
    (``wgs84`` or ``gcj02``); areas are in WGS-84 and positions are brought to it.

    >>> import pyarrow as pa
    >>> t = pa.table({"vin": ["LSVAU2180N2183294"], "lat": [39.9], "lon": [116.4]})
    >>> result = classify(t)
    >>> result.labels.column("onshore_level").to_pylist()
    ['sensitive_personal']
    >>> result.assessment.distinct_subjects
    1
    """
    pack = pack or load_pack()
    if isinstance(data, pa.Table):
        batches: Iterable[pa.RecordBatch] = data.to_batches()
        schema = data.schema
    elif isinstance(data, pa.RecordBatch):
        batches, schema = [data], data.schema
    else:
        batches, schema = data, None
    results, assessment = classify_batches(
        batches, pack, areas, subject=subject, source=source, crs=crs
    )
    if results:
        data_t = pa.Table.from_batches([r.data for r in results])
        labels_t = pa.Table.from_batches([r.labels for r in results])
        rows = np.concatenate([r.rows for r in results])
    else:
        data_t = schema.empty_table() if schema is not None else pa.table({})
        labels_t = pa.table(
            {
                "onshore_level": pa.array([], pa.string()),
                "onshore_reasons": pa.array([], pa.list_(pa.string())),
                "onshore_area": pa.array([], pa.string()),
                "onshore_areas": pa.array([], pa.list_(pa.string())),
            }
        )
        rows = np.zeros(0, dtype=np.int64)
    bad = tuple(b for r in results for b in r.bad)
    return Classification(data_t, labels_t, rows, bad, assessment)
