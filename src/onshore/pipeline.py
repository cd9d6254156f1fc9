"""The ingest pipeline every runner shares: decode → consent gate → classify → residency → store.

:func:`ingest` streams a file (or any iterable of Arrow batches) through the consent gate
(default: nothing without a legal basis for the purpose is collected), the classifier and the
residency check into a store of a data home. It appends a ``collection`` ledger entry (what the
gate let in and dropped) and a ``storage`` entry (dataset, categories, counts), or a
``policy_refusal`` entry when the store is in the wrong jurisdiction (``PolicyRefusal``, exit 4).

    with DataHome() as home:
        result = ingest(home, "telemetry.parquet", dataset="telemetry",
                        purpose="national_monitoring", areas=index)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from onshore.classify import Classifier
from onshore.consent import ConsentGate, ConsentRegistry, GateReport
from onshore.consent.gate import read_sidecar_file
from onshore.io import QuarantineWriter, open_source
from onshore.io.chunks import chunks, chunks_of
from onshore.ledger import Activity, LedgerEntry
from onshore.model import Assessment
from onshore.private import make_private, make_private_dir
from onshore.store.atomic import storage_fault
from onshore.store.home import DEFAULT_STORE, DataHome
from onshore.store.lake import Lake, LakeFile, StagedWrite, storage_entry

if TYPE_CHECKING:
    from onshore.classify.plan import FieldPlan
    from onshore.geo import AreaIndex
    from onshore.packs import Pack


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did: gate report, assessment of what was stored, files written."""

    dataset: str
    store: str
    purpose: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    gate: GateReport
    assessment: Assessment
    files: tuple[LakeFile, ...]
    seconds: float
    quarantine: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "store": self.store,
            "purpose": self.purpose,
            "rows_read": self.rows_read,
            "rows_stored": self.rows_stored,
            "rows_quarantined": self.rows_quarantined,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_read / self.seconds) if self.seconds else None,
            "level": self.assessment.level.label,
            "gate": self.gate.to_dict(),
            "files": [f.to_dict() for f in self.files],
            "quarantine": self.quarantine,
            "assessment": self.assessment.to_dict(),
        }


Batches = Iterable[tuple[pa.RecordBatch, np.ndarray | None]]


def ingest(
    home: DataHome,
    source: str | Path | Batches,
    *,
    dataset: str,
    purpose: str,
    store: str = DEFAULT_STORE,
    areas: AreaIndex | None = None,
    origin: str | None = None,
    subject: str | None = None,
    fmt: str | None = None,
    batch_rows: int = 65_536,
    on_batch: Callable[[], None] | None = None,
    encoding: str | None = None,
) -> IngestResult:
    """Gate, classify and store ``source`` as ``dataset`` in ``store``; see the module doc.

    ``origin`` is where the data was collected (default: the pack's jurisdiction). ``encoding``
    is a CSV file's text encoding (default: detected, :func:`onshore.io.readers.csv_encoding`).
    """
    started = time.perf_counter()
    pack = home.pack
    origin = (origin or pack.jurisdiction).upper()
    if isinstance(source, str | Path):
        label: str | None = str(source)
        opened = open_source(Path(source), fmt=fmt, batch_rows=batch_rows, encoding=encoding)
        stream = chunks_of(opened)
    else:
        label, stream = None, chunks(source)
    gate = ConsentGate(
        pack,
        purpose,
        ConsentRegistry(home).windows(purpose),
        now=home.now(),
        # exterior media keep only with their anonymizer sidecar; relative paths are the file's
        read_sidecar=read_sidecar_file(Path(label).parent if label is not None else None),
        subject=subject,
    )
    classifier = Classifier(pack, areas, subject=subject, source=label)
    quarantine_file = home.path / "quarantine" / f"{dataset}-{home.now():%Y%m%dT%H%M%S%f}.jsonl"
    make_private_dir(quarantine_file.parent)  # 0700; the file is made 0600 once closed
    qwriter = QuarantineWriter(quarantine_file, source=label)
    staged = None
    rows_read = 0
    try:
        for chunk in stream:
            if chunk.batch is not None:
                rows_read += chunk.batch.num_rows
                gated = gate.apply(chunk.batch)
                result = classifier.classify_batch(gated, rows=chunk.rows)
                if staged is None:
                    plan = classifier.plan_for(gated.schema)
                    staged = Lake(home).stage(
                        dataset,
                        store=store,
                        origin=origin,
                        vin_column=plan.vin or _person_key(pack, plan),
                        ts_column=plan.ts,
                    )
                staged.add(result.labelled(), categories=gate.report().kept_categories)
                _quarantine(qwriter, result.bad)
            classifier.add_quarantined(len(chunk.bad))
            _quarantine(qwriter, chunk.bad)
            if on_batch is not None and chunk.batch is not None:
                on_batch()
        assessment = classifier.assessment()
        report = gate.report()
        collection = _collection_entry(home, dataset, report, assessment, rows_read, label)
        files: list[LakeFile] = []
        if staged is None:
            home.ledger.append(collection)
        else:
            try:
                files = staged.commit(level=assessment.level, categories=report.kept_categories)
            except Exception:
                home.ledger.append(collection)  # collected, not stored: the ledger says so
                raise
            storage = storage_entry(
                home,
                files,
                dataset=dataset,
                purpose=purpose,
                categories=report.kept_categories,
                counts={
                    "rows": staged.rows,
                    "distinct_vehicles": assessment.distinct_vehicles or 0,
                    "distinct_subjects": assessment.distinct_subjects,
                },
                details={
                    "store": staged.store.name,
                    "jurisdiction": staged.store.jurisdiction,
                    "location": staged.store.location,
                    "origin": origin,
                    "level": assessment.level.label,
                    "source": label,
                },
            )
            # One append for both entries: one signed head per put, not two (the ledger's
            # appends are serialized across every worker; see docs/scaling.md).
            home.ledger.append_many([collection, storage])
    except BaseException:
        _abandon(staged, qwriter, quarantine_file)
        raise
    try:
        qwriter.close()
        make_private(quarantine_file)
    except OSError as exc:
        raise storage_fault(f"cannot write {quarantine_file}", exc) from exc
    return IngestResult(
        dataset=dataset,
        store=store,
        purpose=purpose,
        rows_read=rows_read,
        rows_stored=staged.rows if staged is not None else 0,
        rows_quarantined=assessment.rows_quarantined,
        gate=report,
        assessment=assessment,
        files=tuple(files),
        seconds=time.perf_counter() - started,
        quarantine=str(quarantine_file) if qwriter.count else None,
    )


def _person_key(pack: Pack, plan: FieldPlan) -> str | None:
    """A dataset without a VIN keyed on a person (an app account): its person column is the
    subject key that subject export and deletion look rows up by."""
    if plan.subject is None:
        return None
    category = plan.label(plan.subject).category
    return plan.subject if pack.subject_kind(category) == "person" else None


def _quarantine(qwriter: QuarantineWriter, records: Any) -> None:
    try:
        qwriter.write(records)
    except OSError as exc:  # disk full, file too large, permission denied
        raise storage_fault(f"cannot write {qwriter.path}", exc) from exc


def _abandon(staged: StagedWrite | None, qwriter: QuarantineWriter, quarantine: Path) -> None:
    """Clean up after a failed put; a second fault here must not hide the first."""
    if staged is not None:
        staged.abort()
    with contextlib.suppress(OSError):
        qwriter.close()
    with contextlib.suppress(OSError):
        make_private(quarantine)


def _collection_entry(
    home: DataHome,
    dataset: str,
    report: GateReport,
    assessment: Assessment,
    rows_read: int,
    source: str | None,
) -> LedgerEntry:
    return home.entry(
        Activity.COLLECTION,
        purpose=report.purpose,
        dataset=dataset,
        categories=report.kept_categories,
        counts={
            "rows": rows_read,
            "rows_quarantined": assessment.rows_quarantined,
            "values_dropped": sum(report.dropped_values.values()),
            "values_nulled": sum(report.nulled_values.values()),
            "columns_dropped": sum(1 for c in report.columns if c.action in ("drop", "refuse")),
        },
        decision="collected",
        reasons=report.rule_ids,
        details={
            "source": source,
            "dropped_values": report.dropped_values,
            "nulled_values": report.nulled_values,
            "nulled_reasons": report.nulled_reasons,
            "dropped_reasons": report.dropped_reasons,
            "kept_values": report.kept_values,
            "refused_categories": list(report.refused),
            "columns": {c.name: c.action for c in report.columns},
        },
    )
