"""Data-subject rights for a vehicle or a person: export everything held about it, or erase it.

A subject is a vehicle (its VIN) or a natural person (an id such as an app account, for data
keyed on a person: a dataset without a VIN stored with ``--subject COLUMN`` is looked up by
that column). Below, "the vehicle" stands for either.

:func:`delete_subject` records the request with its due date (the pack's working days, from its
Chinese holiday calendar), removes the vehicle's rows from every lake file (each rewrite atomic:
a crash leaves the old file or the new one), erases its consents and quarantined records, then
scans the whole lake again and completes the request only when nothing is left; a ``deletion``
ledger entry is the evidence. :func:`export_subject` packages every lake row, the metadata,
consents, requests and ledger entries about the vehicle into a folder or a zip.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from onshore.consent import ConsentRegistry
from onshore.consent.model import VEHICLE, check_subject
from onshore.errors import BadInput, IntegrityError, PackError
from onshore.ledger import Activity
from onshore.packs.bases import DueDate
from onshore.store.atomic import replace_atomic, temp_path
from onshore.store.db import iso
from onshore.store.home import DataHome
from onshore.store.lake import Lake


@dataclass(frozen=True)
class DeletionResult:
    """A completed deletion request and its evidence.

    ``places`` lists every registered place with what was found, done and found again;
    ``remaining`` counts what the rescans found over every place that could be checked (the
    request completes only at 0); ``unchecked`` names the places that could not be, and
    ``recipients`` the transfers whose recipients must be told (PIPL Art. 47)."""

    request_id: str
    subject: str
    received_at: str
    due_date: str
    due_confidence: str
    completed_at: str
    rows_removed: dict[str, int]
    files_rewritten: list[str]
    files_removed: list[str]
    consents_erased: int
    quarantine_records_removed: int
    files_scanned_after: int
    rows_remaining: int
    seconds: float
    places: list[dict[str, Any]] = field(default_factory=list)
    remaining: int = 0
    unchecked: list[str] = field(default_factory=list)
    recipients: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SubjectExport:
    """What an export wrote."""

    path: str
    rows: dict[str, int]
    files: int
    consents: int
    ledger_entries: int
    requests: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_vin(vin: str, kind: str = VEHICLE) -> None:
    check_subject(vin, kind)


def deletion_due(home: DataHome, received: datetime) -> DueDate:
    """The due date of a deletion request received at ``received`` (working days, China)."""
    pack = home.pack
    if pack.calendar is None or pack.retention is None:
        raise PackError(f"pack {pack.name!r} needs calendar.yaml and retention.yaml")
    local = (received.astimezone(UTC) + pack.calendar.utc_offset()).date()
    return pack.calendar.add_working_days(local, pack.retention.deletion_due_working_days)


def count_vin(home: DataHome, vin: str) -> tuple[int, int]:
    """Rows of ``vin`` in the whole lake by a full scan (no pruning); and files scanned."""
    from onshore.store.erasers import count_vin as lake_count

    return lake_count(home, vin)


def delete_subject(
    home: DataHome,
    vin: str,
    *,
    received_at: datetime | None = None,
    before_replace: Callable[[Path], None] | None = None,
    kind: str = VEHICLE,
) -> DeletionResult:
    """Erase ``vin`` (a person's id when ``kind`` is ``person``) from every registered place
    (:mod:`onshore.store.places`), rescan them all and record the evidence; see the module
    doc."""
    from onshore.store.places import ErasureJob, PlaceReport, places, reports_total

    _check_vin(vin, kind)
    started = time.perf_counter()
    received = received_at or home.now()
    due = deletion_due(home, received)
    request_id = f"del-{secrets.token_hex(8)}"
    subject = home.subject_ref(vin)
    home.meta.execute(
        "INSERT INTO subject_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request_id,
            "deletion",
            subject,
            iso(received),
            due.day.isoformat(),
            due.confidence,
            None,
            "open",
            "{}",
        ),
    )
    job = ErasureJob(home, vin, request_id, before_replace, kind=kind)
    registered = places()
    done = {p.name: p.erase(job) for p in registered if p.erase is not None}
    reports: list[PlaceReport] = []
    for place in registered:
        erased = done.get(place.name)
        remaining = place.scan(job) if place.scan is not None else None
        if erased is None:
            reports.append(
                PlaceReport(place.name, place.holds, place.status, 0, 0, remaining, place.note)
            )
            continue
        reports.append(
            PlaceReport(
                place.name,
                place.holds,
                erased.status,
                erased.found,
                erased.removed,
                remaining,
                erased.note,
                erased.details,
            )
        )
    remaining, unchecked = reports_total(reports)
    if remaining:
        left = ", ".join(f"{r.place}: {r.remaining}" for r in reports if r.remaining)
        raise IntegrityError(
            f"deletion request {request_id}: the {kind} is still found after erasure ({left})"
        )
    lake = job.shared.get("lake", {})
    rows_removed: dict[str, int] = lake.get("rows", {})
    rewritten: list[str] = lake.get("rewritten", [])
    removed_files: list[str] = lake.get("removed", [])
    consents = int(job.shared.get("consents", 0))
    quarantined = int(job.shared.get("quarantine", 0))
    scanned = int(job.shared.get("lake_files_scanned", 0))
    recipients: list[dict[str, Any]] = job.shared.get("recipients", [])
    completed = home.now()
    result = DeletionResult(
        request_id,
        subject,
        iso(received),
        due.day.isoformat(),
        due.confidence,
        iso(completed),
        rows_removed,
        rewritten,
        removed_files,
        consents,
        quarantined,
        scanned,
        next((r.remaining or 0 for r in reports if r.place == "lake"), 0),
        time.perf_counter() - started,
        [r.to_dict() for r in reports],
        remaining,
        unchecked,
        recipients,
    )
    evidence = {k: v for k, v in result.to_dict().items() if k not in ("subject", "seconds")}
    home.meta.execute(
        "UPDATE subject_requests SET completed_at = ?, status = ?, evidence = ? WHERE id = ?",
        (iso(completed), "completed", json.dumps(evidence, sort_keys=True), request_id),
    )
    pack = home.pack
    assert pack.retention is not None
    home.record(
        Activity.DELETION,
        purpose="data-subject deletion request",
        dataset="*",
        counts={
            "rows": sum(rows_removed.values()),
            "files_rewritten": len(rewritten),
            "files_removed": len(removed_files),
            "consents": consents,
            "quarantine_records": quarantined,
            "rows_remaining": result.rows_remaining,
            "places_checked": sum(1 for r in reports if r.remaining is not None),
            "remaining": remaining,
            "recipients_to_notify": len(recipients),
        },
        decision="deleted",
        reasons=(f"{pack.name}/subject/deletion-within-working-days",),
        subject=subject,
        details={
            "request_id": request_id,
            "received_at": result.received_at,
            "due_date": result.due_date,
            "due_confidence": result.due_confidence,
            "completed_at": result.completed_at,
            "on_time": completed.date().isoformat() <= result.due_date,
            "rows_per_dataset": rows_removed,
            "files_scanned_after": scanned,
            "legal_ref": str(pack.legal_ref(pack.retention.deletion_due_ref)),
            "places": [
                {
                    "place": r.place,
                    "status": r.status,
                    "found": r.found,
                    "removed": r.removed,
                    "remaining": r.remaining,
                    "note": r.note,
                }
                for r in reports
            ],
            "unchecked": unchecked,
            "recipients": [
                {
                    k: r.get(k)
                    for k in (
                        "transfer",
                        "at",
                        "recipient",
                        "country",
                        "contact",
                        "purpose",
                        "access_mode",
                        "approval",
                        "package",
                    )
                }
                for r in recipients
            ],
            "notify_ref": "PIPL Art. 47 (the processor tells recipients to delete)",
        },
    )
    return result


def export_subject(home: DataHome, vin: str, out: Path, *, kind: str = VEHICLE) -> SubjectExport:
    """Write everything held about ``vin`` (a person's id when ``kind`` is ``person``) to the
    folder ``out`` (or a zip when ``.zip``)."""
    _check_vin(vin, kind)
    as_zip = out.suffix == ".zip"
    if out.exists() and (as_zip or any(out.iterdir())):
        raise BadInput("the export target exists and is not an empty folder", file=str(out))
    work = Path(tempfile.mkdtemp(prefix=".subject-", dir=out.parent)) if as_zip else out
    try:
        result = _export_to(home, vin, work, kind)
        if as_zip:
            tmp = temp_path(out)
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(work.rglob("*")):
                    if file.is_file():
                        archive.write(file, file.relative_to(work).as_posix())
            replace_atomic(tmp, out)
    finally:
        if as_zip:
            shutil.rmtree(work, ignore_errors=True)
    now = home.now()
    home.meta.execute(
        "INSERT INTO subject_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            f"acc-{secrets.token_hex(8)}",
            "access",
            home.subject_ref(vin),
            iso(now),
            None,
            None,
            iso(now),
            "completed",
            json.dumps({"rows": result.rows, "files": result.files}),
        ),
    )
    home.record(
        Activity.VIEW,
        purpose="data-subject access request (export)",
        dataset="*",
        counts={
            "rows": sum(result.rows.values()),
            "files": result.files,
            "consents": result.consents,
            "ledger_entries": result.ledger_entries,
        },
        decision="exported",
        subject=home.subject_ref(vin),
        details={"datasets": sorted(result.rows), "subject_kind": kind},
    )
    return SubjectExport(
        str(out), result.rows, result.files, result.consents, result.ledger_entries, result.requests
    )


def _export_to(home: DataHome, vin: str, folder: Path, kind: str = VEHICLE) -> SubjectExport:
    folder.mkdir(parents=True, exist_ok=True)
    lake = Lake(home)
    rows: dict[str, int] = {}
    files: list[dict[str, Any]] = []
    for store, lake_file in lake.all_files():
        if kind == VEHICLE:
            table = lake.read_vin(store, lake_file, vin)
        else:
            table = lake.read_person(store, lake_file, vin)
        if table is None or table.num_rows == 0:
            continue
        target = folder / "lake" / store.name / lake_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
        rows[lake_file.dataset] = rows.get(lake_file.dataset, 0) + table.num_rows
        files.append(
            {
                **lake_file.to_dict(),
                "rows_of_vehicle" if kind == VEHICLE else "rows_of_person": table.num_rows,
                "store_jurisdiction": store.jurisdiction,
                "store_location": store.location,
                "export_path": target.relative_to(folder).as_posix(),
            }
        )
    consents = [c.to_dict(home.now()) for c in ConsentRegistry(home).list(subject=vin, kind=kind)]
    from onshore.transfer.registry import Registry

    exports = Registry(home).exports_of(vin)  # the exports abroad that carried its data
    refs = set(home.subject_refs(vin))
    placeholders = ", ".join("?" for _ in refs)
    requests = home.meta.query(
        f"SELECT id, kind, received_at, due_date, due_confidence, completed_at, status, evidence"
        f" FROM subject_requests WHERE subject IN ({placeholders}) ORDER BY received_at",
        sorted(refs),
    )
    entries = [
        {"index": index, "entry": entry.to_dict()}
        for index, entry in home.ledger.entries()
        if entry.subject in refs
    ]
    datasets = sorted({f["dataset"] for f in files})
    _dump(
        folder / ("vehicle.json" if kind == VEHICLE else "person.json"),
        {
            ("vin" if kind == VEHICLE else "person"): vin,
            "exported_at": iso(home.now()),
            "pseudonyms": sorted(refs),
            "datasets": datasets,
        },
    )
    _dump(folder / "lake.json", files)
    _dump(folder / "consents.json", consents)
    _dump(folder / "exports.json", exports)
    _dump(
        folder / "requests.json",
        [
            dict(
                zip(
                    (
                        "id",
                        "kind",
                        "received_at",
                        "due_date",
                        "due_confidence",
                        "completed_at",
                        "status",
                        "evidence",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in requests
        ],
    )
    with open(folder / "ledger.jsonl", "w", encoding="utf-8") as fh:
        for item in entries:
            fh.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
    readme = _README if kind == VEHICLE else _README_PERSON
    (folder / "README.md").write_text(readme.format(vin=vin), encoding="utf-8")
    return SubjectExport(str(folder), rows, len(files), len(consents), len(entries), len(requests))


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


_README = """# Data held about vehicle {vin}

Written by `onshore subject export`. Everything the data home holds about this vehicle:

| file | holds |
|---|---|
| `lake/STORE/dataset=NAME/date=DAY/*.parquet` | every stored row of the vehicle, labelled |
| `lake.json` | which file each came from, its store, jurisdiction and location |
| `consents.json` | the consents given for the vehicle (granted, expiry, withdrawal) |
| `exports.json` | exports abroad that carried the vehicle's data: recipient, contact, purpose |
| `requests.json` | data-subject requests about the vehicle (access, deletion) |
| `ledger.jsonl` | audit-ledger entries about the vehicle (it appears there only as a pseudonym) |
| `vehicle.json` | the VIN, its pseudonyms and the export time |
"""

_README_PERSON = """# Data held about person {vin}

Written by `onshore subject export --subject`. Everything the data home holds about this person
(the datasets keyed on a person, stored with `store put --subject COLUMN`):

| file | holds |
|---|---|
| `lake/STORE/dataset=NAME/date=DAY/*.parquet` | every stored row of the person, labelled |
| `lake.json` | which file each came from, its store, jurisdiction and location |
| `consents.json` | the consents the person gave (granted, expiry, withdrawal) |
| `exports.json` | exports abroad that carried the person's data: recipient, contact, purpose |
| `requests.json` | data-subject requests about the person (access, deletion) |
| `ledger.jsonl` | audit-ledger entries about the person (who appears there only as a pseudonym) |
| `person.json` | the person's id, its pseudonyms and the export time |
"""
