"""The outbox as a place of personal data: erasing a vehicle from export packages, aging them out,
and naming the recipients a deletion must be passed on to (PIPL Art. 47).

A package (``HOME/outbox/TRANSFER/``: ``data.parquet`` and ``manifest.json``) that holds rows of
the vehicle is rewritten without them (atomically) and its manifest updated: the file's new
SHA-256, bytes and rows, and an ``erasures`` entry (request, time, rows removed). A package left
with no rows is removed whole (its transfer stays in the transfer log and on the ledger). A
package pseudonymized under its recipient's key (:meth:`TransferGate.pseudonym_key`) holds no
raw VIN, yet it is the vehicle's data: its pseudonyms can be recomputed for the VIN with the
recipient's key. It is kept as shipped and listed among the transfers whose recipient must be
told. Staging leftovers (the outbox's dot-folders) that hold the vehicle are removed.

Retention: a package ages out with the shortest period of the categories it carries, counted
from its transfer time, as lake rows do; staging leftovers after a day.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from onshore.jsonenc import dumps
from onshore.store.atomic import replace_atomic, temp_path, write_parquet_atomic
from onshore.store.db import iso
from onshore.store.home import DataHome
from onshore.store.places import (
    Erased,
    ErasureJob,
    Place,
    Purged,
    Status,
    count_vin_bytes,
    mask_vins,
)

STAGING_DAYS = 1


def packages(home: DataHome) -> list[Path]:
    outbox = home.path / "outbox"
    if not outbox.is_dir():
        return []
    return sorted(d for d in outbox.iterdir() if d.is_dir() and not d.name.startswith("."))


def _staged_files(home: DataHome) -> list[Path]:
    outbox = home.path / "outbox"
    if not outbox.is_dir():
        return []
    return sorted(
        p
        for d in outbox.iterdir()
        if d.is_dir() and d.name.startswith(".")
        for p in d.rglob("*")
        if p.is_file()
    )


def _vin_mask(table: pa.Table, vin: str) -> pa.Array:
    """True for the rows with ``vin`` in any string column."""
    hit = pa.array([False] * table.num_rows)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            hit = pc.or_(hit, pc.fill_null(pc.equal(column, vin), False))
    return hit


def _file_hits(path: Path, vin: str) -> int:
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException):
            return count_vin_bytes(path.read_bytes(), vin)
        return int(pc.sum(_vin_mask(table, vin)).as_py() or 0)
    return count_vin_bytes(path.read_bytes(), vin)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, value: Any) -> None:
    tmp = temp_path(path)
    tmp.write_text(dumps(value, indent=2, sort_keys=False), "utf-8")
    replace_atomic(tmp, path)


def _remove_package(folder: Path) -> None:
    gone = folder.with_name(f".erased-{folder.name}")
    os.replace(folder, gone)  # atomic: the package is there whole or not at all
    shutil.rmtree(gone, ignore_errors=True)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        value = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _erase_package(folder: Path, job: ErasureJob) -> dict[str, Any] | None:
    manifest = _manifest(folder)
    files = sorted(folder.glob("*.parquet"))
    tables = {f: pq.read_table(f) for f in files}
    hits = {f: _vin_mask(t, job.vin) for f, t in tables.items()}
    removed = {f.name: int(pc.sum(m).as_py() or 0) for f, m in hits.items()}
    manifest_hits = (
        count_vin_bytes((folder / "manifest.json").read_bytes(), job.vin) if manifest else 0
    )
    if not any(removed.values()) and not manifest_hits:
        return None
    rows = sum(removed.values())
    left = sum(t.num_rows for t in tables.values()) - rows
    about = {"transfer": manifest.get("transfer", folder.name), "rows_removed": rows}
    if left == 0:
        _remove_package(folder)
        return {**about, "action": "package removed (no rows left)"}
    for f, table in tables.items():
        if removed[f.name]:
            write_parquet_atomic(f, table.filter(pc.invert(hits[f])))
    by_name = {f.name: f for f in files}
    for entry in manifest.get("files", []):
        named = by_name.get(str(entry.get("path")))
        if named is not None and removed[named.name]:
            entry.update(
                sha256=_sha256(named),
                bytes=named.stat().st_size,
                rows=pq.ParquetFile(named).metadata.num_rows,
            )
    manifest.setdefault("erasures", []).append(
        {"request_id": job.request_id, "at": iso(job.home.now()), "rows_removed": rows}
    )
    if manifest_hits:
        manifest = json.loads(mask_vins(json.dumps(manifest)).replace(job.vin, "[VIN]"))
    _write_json(folder / "manifest.json", manifest)
    return {
        **about,
        "action": "data.parquet rewritten, manifest SHA-256 updated",
        "manifest_sha256": _sha256(folder / "manifest.json"),
    }


def _erase_outbox(job: ErasureJob) -> Erased:
    recipients = recipients_of(job.home, job.vin)
    job.shared["recipients"] = recipients
    by_transfer = {r["transfer"]: r for r in recipients}
    done: list[dict[str, Any]] = []
    pseudonymous: list[dict[str, Any]] = []
    for folder in packages(job.home):
        outcome = _erase_package(folder, job)
        tid = _manifest(folder).get("transfer", folder.name) if outcome is None else None
        if outcome is not None:
            done.append(outcome)
            if outcome["transfer"] in by_transfer:
                by_transfer[outcome["transfer"]]["package"] = outcome["action"]
        elif tid in by_transfer and _manifest(folder).get("pseudonym_key_id"):
            key_id = _manifest(folder)["pseudonym_key_id"]
            by_transfer[tid]["package"] = (
                f"pseudonymized under the recipient's key {key_id}: kept as shipped"
            )
            pseudonymous.append({"transfer": tid, "pseudonym_key_id": key_id})
    staged = 0
    for path in _staged_files(job.home):
        if _file_hits(path, job.vin):
            path.unlink(missing_ok=True)
            staged += 1
    rows = sum(d["rows_removed"] for d in done)
    details: dict[str, Any] = {"packages": done, "staging_files_removed": staged}
    note = ""
    if pseudonymous:
        details["pseudonymous_packages"] = pseudonymous
        note = (
            "pseudonymized packages hold no raw VIN but are the vehicle's data: the recipient's "
            "key recomputes its pseudonyms; the recipients are listed to be told"
        )
    found = rows + staged
    status: Status = "erased" if found else ("pseudonymous" if pseudonymous else "clean")
    return Erased(found, found, status, note, details)


def _scan_outbox(job: ErasureJob) -> int:
    outbox = job.home.path / "outbox"
    if not outbox.is_dir():
        return 0
    return sum(_file_hits(p, job.vin) for p in outbox.rglob("*") if p.is_file())


def _package_time(folder: Path) -> datetime:
    try:
        return datetime.strptime(folder.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC)


def _purge_outbox(home: DataHome, now: datetime, dry_run: bool) -> Purged:
    pack = home.pack
    assert pack.retention is not None
    removed: list[str] = []
    for folder in packages(home):
        categories = [str(c) for c in _manifest(folder).get("categories", [])]
        known = [c for c in categories if c in pack.categories]
        days = min(
            (pack.retention.days_for(pack, c) for c in known), default=pack.retention.default_days
        )
        if _package_time(folder) < now - timedelta(days=days):
            removed.append(folder.name)
            if not dry_run:
                _remove_package(folder)
    stale = [
        p
        for p in _staged_files(home)
        if datetime.fromtimestamp(p.stat().st_mtime, tz=UTC) < now - timedelta(days=STAGING_DAYS)
    ]
    if not dry_run:
        for path in stale:
            path.unlink(missing_ok=True)
    return Purged(
        {"outbox_packages": len(removed), "outbox_staging_files": len(stale)},
        details={"outbox_packages_removed": removed},
    )


def recipients_of(home: DataHome, vin: str) -> list[dict[str, Any]]:
    """Every transfer that carried ``vin``'s data (recipient, country, contact, date, purpose,
    access mode, mechanism and approval): whom a deletion must be passed on to."""
    from onshore.transfer.registry import Registry

    registry = Registry(home)
    exports = registry.exports_of(vin)
    if not exports:
        return []
    details = {i: e.details for i, e in home.ledger.entries(kind="export")}
    rows = home.meta.query("SELECT id, access_mode, mechanism, approval FROM transfers")
    log = {str(r[0]): r for r in rows}
    out: list[dict[str, Any]] = []
    for item in exports:
        d = details.get(item["ledger_index"], {})
        logged = log.get(str(item["transfer"]))
        out.append(
            {
                "transfer": item["transfer"],
                "at": item["at"],
                "recipient": item["recipient"],
                "country": item["country"],
                "contact": item["contact"],
                "purpose": item["purpose"],
                "access_mode": logged[1] if logged else None,
                "mechanism": logged[2] if logged else None,
                "approval": d.get("approval") or (logged[3] if logged else None),
                "categories": item["categories"],
                "ledger_index": item["ledger_index"],
                "package": "not in the outbox (delivered or aged out)",
            }
        )
    return out


PLACES = (
    Place(
        "outbox",
        "export packages and their staging (transfers, remote-access reads)",
        tables=("transfers", "transfer_approvals"),
        paths=("outbox",),
        erase=_erase_outbox,
        scan=_scan_outbox,
        purge=_purge_outbox,
        order=40,
    ),
    Place(
        "transfer-counters",
        "the yearly count of individuals exported (keyed hashes of VINs or person ids)",
        tables=("transfer_individuals",),
        erase=lambda job: Erased(
            0,
            0,
            "pseudonymous",
            "kept: keyed hashes (the transfer-count key), no VIN; the year's cumulative counts "
            "that decide the transfer mechanism need them (Provisions on cross-border data "
            "flows, Art. 7-8)",
        ),
        order=45,
    ),
)
