"""Data-subject rights for a vehicle: export everything held about it, or erase it.

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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from onshore.consent import ConsentRegistry
from onshore.consent.model import VIN_RE
from onshore.errors import BadInput, IntegrityError, PackError
from onshore.ledger import Activity
from onshore.packs.bases import DueDate
from onshore.private import create_private_file
from onshore.store.atomic import remove_atomic, replace_atomic, temp_path
from onshore.store.db import iso
from onshore.store.home import DataHome
from onshore.store.lake import Lake, file_meta


@dataclass(frozen=True)
class DeletionResult:
    """A completed deletion request and its evidence."""

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


def _check_vin(vin: str) -> None:
    if not VIN_RE.match(vin):
        raise BadInput(f"{vin!r} is not a 17-character VIN", field="vin")


def deletion_due(home: DataHome, received: datetime) -> DueDate:
    """The due date of a deletion request received at ``received`` (working days, China)."""
    pack = home.pack
    if pack.calendar is None or pack.retention is None:
        raise PackError(f"pack {pack.name!r} needs calendar.yaml and retention.yaml")
    local = (received.astimezone(UTC) + pack.calendar.utc_offset()).date()
    return pack.calendar.add_working_days(local, pack.retention.deletion_due_working_days)


def count_vin(home: DataHome, vin: str) -> tuple[int, int]:
    """Rows of ``vin`` in the whole lake by a full scan (no pruning); and files scanned."""
    rows = files = 0
    for store, lake_file in Lake(home).all_files():
        path = store.root / lake_file.path
        schema = pq.read_schema(path)
        column = file_meta(schema).get("vin_column") or ""
        files += 1
        if column and column in schema.names:
            values = pq.read_table(path, columns=[column]).column(column)
            rows += int(pc.sum(pc.equal(values, vin)).as_py() or 0)
    return rows, files


def delete_subject(
    home: DataHome,
    vin: str,
    *,
    received_at: datetime | None = None,
    before_replace: Callable[[Path], None] | None = None,
) -> DeletionResult:
    """Erase every stored row and record of ``vin``; see the module doc."""
    _check_vin(vin)
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
    lake = Lake(home)
    rows_removed: dict[str, int] = {}
    rewritten: list[str] = []
    removed_files: list[str] = []
    for store, lake_file in list(lake.all_files()):
        found = lake.read_vin(store, lake_file, vin)
        if found is None or found.num_rows == 0:
            continue
        column = file_meta(found.schema).get("vin_column") or "vin"

        def others(table: pa.Table, c: str = column) -> pa.Array:
            return pc.fill_null(pc.not_equal(table.column(c), vin), True)

        n = lake.rewrite(
            store,
            lake_file,
            others,
            action="subject deletion",
            before_replace=before_replace,
        )
        rows_removed[lake_file.dataset] = rows_removed.get(lake_file.dataset, 0) + n
        where = f"{store.name}:{lake_file.path}"
        (rewritten if (store.root / lake_file.path).exists() else removed_files).append(where)
    consents = ConsentRegistry(home).erase_subject(vin, request_id=request_id)
    quarantined = _scrub_quarantine(home, vin)
    remaining, scanned = count_vin(home, vin)
    if remaining:
        raise IntegrityError(
            f"deletion request {request_id}: {remaining} rows of the vehicle are still in the lake"
        )
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
        remaining,
        time.perf_counter() - started,
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
            "rows_remaining": remaining,
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
        },
    )
    return result


def _scrub_quarantine(home: DataHome, vin: str) -> int:
    """Drop quarantined records that mention ``vin`` (each file rewritten atomically)."""
    removed = 0
    folder = home.path / "quarantine"
    if not folder.is_dir():
        return 0
    for path in sorted(folder.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        keep = [line for line in lines if vin not in line]
        if len(keep) == len(lines):
            continue
        removed += len(lines) - len(keep)
        if not keep:
            remove_atomic(path)
            continue
        tmp = temp_path(path)
        create_private_file(tmp)
        tmp.write_text("".join(keep), encoding="utf-8")
        replace_atomic(tmp, path)
    return removed


def export_subject(home: DataHome, vin: str, out: Path) -> SubjectExport:
    """Write everything held about ``vin`` to the folder ``out`` (or a zip when ``.zip``)."""
    _check_vin(vin)
    as_zip = out.suffix == ".zip"
    if out.exists() and (as_zip or any(out.iterdir())):
        raise BadInput("the export target exists and is not an empty folder", file=str(out))
    work = Path(tempfile.mkdtemp(prefix=".subject-", dir=out.parent)) if as_zip else out
    try:
        result = _export_to(home, vin, work)
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
        details={"datasets": sorted(result.rows)},
    )
    return SubjectExport(
        str(out), result.rows, result.files, result.consents, result.ledger_entries, result.requests
    )


def _export_to(home: DataHome, vin: str, folder: Path) -> SubjectExport:
    folder.mkdir(parents=True, exist_ok=True)
    lake = Lake(home)
    rows: dict[str, int] = {}
    files: list[dict[str, Any]] = []
    for store, lake_file in lake.all_files():
        table = lake.read_vin(store, lake_file, vin)
        if table is None or table.num_rows == 0:
            continue
        target = folder / "lake" / store.name / lake_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
        rows[lake_file.dataset] = rows.get(lake_file.dataset, 0) + table.num_rows
        files.append(
            {
                **lake_file.to_dict(),
                "rows_of_vehicle": table.num_rows,
                "store_jurisdiction": store.jurisdiction,
                "store_location": store.location,
                "export_path": target.relative_to(folder).as_posix(),
            }
        )
    consents = [c.to_dict(home.now()) for c in ConsentRegistry(home).list(vin=vin)]
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
        folder / "vehicle.json",
        {
            "vin": vin,
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
    (folder / "README.md").write_text(_README.format(vin=vin), encoding="utf-8")
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
