"""The scan use case: classify what a source holds; write labelled rows and bad records.

The CLI (``onshore scan``), the service (``POST /v1/scan``) and the library call this one
function; they differ only in where the rows come from and where the results go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from onshore.app.overlap import BackgroundSink, prefetch
from onshore.app.sinks import Quarantine, Sink
from onshore.classify import Classifier
from onshore.io.chunks import Chunk
from onshore.model import Assessment

if TYPE_CHECKING:
    from onshore.geo import AreaIndex
    from onshore.packs import Pack
    from onshore.store import DataHome


@dataclass(frozen=True)
class ScanResult:
    """The assessment of what was read, and how many records went to quarantine."""

    assessment: Assessment
    quarantined: int


def scan(
    source: Iterable[Chunk],
    pack: Pack,
    areas: AreaIndex | None = None,
    *,
    quarantine: Quarantine,
    out: Sink | None = None,
    subject: str | None = None,
    crs: str = "wgs84",
    label: str | None = None,
    home: DataHome | None = None,
    purpose: str = "classification of submitted rows",
    on_chunk: Callable[[], None] | None = None,
) -> ScanResult:
    """Classify every chunk of ``source``; labelled rows go to ``out`` (if any), records that
    could not be read or classified to ``quarantine``. Inside a data home (``home``), the scan
    is a ``use`` of the data and is entered on its ledger. On any error ``out`` is aborted."""
    classifier = Classifier(pack, areas, subject=subject, source=label, crs=crs)
    schema = None
    # Reading, classifying and writing overlap: the source is read one chunk ahead in a thread
    # of its own and labelled batches are written behind, in another (onshore.app.overlap).
    sink = BackgroundSink(out) if out is not None else None
    try:
        with prefetch(iter(source)) as chunks:
            for chunk in chunks:
                if chunk.batch is not None:
                    result = classifier.classify_batch(chunk.batch, rows=chunk.rows)
                    if sink is not None:
                        labelled = result.labelled()
                        schema = labelled.schema
                        sink.write(labelled)
                    quarantine.write(result.bad)
                classifier.add_quarantined(len(chunk.bad))
                quarantine.write(chunk.bad)
                if on_chunk is not None:
                    on_chunk()
        if sink is not None:
            sink.close(schema)
    except BaseException:
        if sink is not None:
            sink.abort()
        quarantine.close()
        raise
    quarantine.close()
    assessment = classifier.assessment()
    if home is not None:
        from onshore.ledger import Activity  # only in a data home: a plain scan never loads it

        home.record(
            Activity.USE,
            purpose=purpose,
            dataset="-",
            categories=sorted(k for k, v in assessment.rows_per_category.items() if v),
            counts={"rows": assessment.rows, "rows_quarantined": assessment.rows_quarantined},
            decision=assessment.level.label,
        )
    return ScanResult(assessment, quarantine.count)
