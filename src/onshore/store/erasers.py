"""The built-in places of the data home (see :mod:`onshore.store.places`) and their erasers.

Lake files are rewritten without the vehicle's rows (atomically); consents and idempotency keys
are deleted; quarantined messages that mention the vehicle, in any encoding, keep their reason,
size and SHA-256 but lose their bytes; every table of the metadata database is rescanned, and
then the database files themselves: SQLite runs with ``secure_delete`` (freed bytes are
zeroed), the write-ahead log is checkpointed and truncated, and the file is rescanned byte by
byte (a hit left by a home older than ``secure_delete`` is cleared by ``VACUUM``). On PostgreSQL
a deleted row stays in its table's pages until ``VACUUM`` makes the space reusable and a later
write overwrites it, and in the WAL until the segment is recycled; Onshore runs ``VACUUM`` on the
tables it touched and says so in the evidence (``VACUUM FULL`` rewrites a table; the operator's
base backups and WAL archive are the backups of the pack's ``backups`` setting).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from onshore.consent import ConsentRegistry
from onshore.private import create_private_file
from onshore.store.atomic import remove_atomic, replace_atomic, temp_path
from onshore.store.db import parse_iso
from onshore.store.home import DataHome
from onshore.store.lake import Lake, file_meta, holds_subject
from onshore.store.places import (
    Erased,
    ErasureJob,
    Place,
    Purged,
    Status,
    count_vin_bytes,
)


# -- lake ----------------------------------------------------------------------------------------
def held_datasets(home: DataHome) -> dict[str, str]:
    """Dataset → the id of the enabled legal hold that keeps it."""
    retention = home.pack.retention
    if retention is None:
        return {}
    return {d: h.id for h in retention.legal_holds if h.enabled for d in h.datasets}


def _erase_lake(job: ErasureJob) -> Erased:
    home, vin = job.home, job.vin
    lake = Lake(home)
    held = held_datasets(home)
    rows: dict[str, int] = {}
    rewritten: list[str] = []
    removed: list[str] = []
    kept: dict[str, int] = {}
    person = job.kind == "person"
    for store, lake_file in list(lake.all_files()):
        if person:
            found = lake.read_person(store, lake_file, vin)
        else:
            found = lake.read_vin(store, lake_file, vin)
        if found is None or found.num_rows == 0:
            continue
        if lake_file.dataset in held:
            kept[lake_file.dataset] = kept.get(lake_file.dataset, 0) + found.num_rows
            continue
        column = file_meta(found.schema).get("vin_column") or "vin"

        def others(table: pa.Table, c: str = column) -> pa.Array:
            if person:  # rows where no person column holds the id
                return pc.invert(holds_subject(table, lake.person_columns(table.schema), vin))
            return pc.fill_null(pc.not_equal(table.column(c), vin), True)

        done = lake.rewrite(
            store, lake_file, others, action="subject deletion", before_replace=job.before_replace
        )
        rows[lake_file.dataset] = rows.get(lake_file.dataset, 0) + done.removed
        where = f"{store.name}:{lake_file.path}"
        (rewritten if done.path is not None else removed).append(where)
    job.shared["lake"] = {"rows": rows, "rewritten": rewritten, "removed": removed, "held": kept}
    total = sum(rows.values())
    details: dict[str, Any] = {
        "rows_per_dataset": rows,
        "files_rewritten": len(rewritten),
        "files_removed": len(removed),
    }
    if kept:
        details["retained_by_law"] = {d: {"rows": n, "hold": held[d]} for d, n in kept.items()}
        return Erased(total + sum(kept.values()), total, "retained", "legal hold", details)
    return Erased(total, total, "erased" if total else "clean", "", details)


def count_vin(
    home: DataHome, vin: str, *, skip: Collection[str] = (), kind: str = "vehicle"
) -> tuple[int, int]:
    """Rows of ``vin`` (a person's id when ``kind`` is "person": in any person column) in the
    whole lake by a full scan (no pruning); and files scanned."""
    rows = files = 0
    lake = Lake(home)
    for store, lake_file in lake.all_files():
        schema = store.lake.read_schema(lake_file.path)
        column = file_meta(schema).get("vin_column") or ""
        files += 1
        if lake_file.dataset in skip:
            continue
        if kind == "person":
            columns = lake.person_columns(schema)
            if columns:
                keys = lake.read_table(store, lake_file, columns=columns)
                rows += int(pc.sum(holds_subject(keys, columns, vin)).as_py() or 0)
            continue
        if column and column in schema.names:
            values = lake.read_table(store, lake_file, columns=[column]).column(column)
            rows += int(pc.sum(pc.equal(values, vin)).as_py() or 0)
    return rows, files


def _scan_lake(job: ErasureJob) -> int:
    rows, files = count_vin(job.home, job.vin, skip=set(held_datasets(job.home)), kind=job.kind)
    job.shared["lake_files_scanned"] = files
    return rows


# -- metadata tables -----------------------------------------------------------------------------
def _erase_consents(job: ErasureJob) -> Erased:
    n = ConsentRegistry(job.home).erase_subject(job.vin, request_id=job.request_id)
    job.shared["consents"] = n
    return Erased(n, n, "erased" if n else "clean")


def _scan_consents(job: ErasureJob) -> int:
    rows = job.home.meta.query("SELECT COUNT(*) FROM consents WHERE vin = ?", (job.vin,))
    return int(rows[0][0])


def _has_table(home: DataHome, table: str) -> bool:
    return table in database_tables(home)


def _erase_ingest_keys(job: ErasureJob) -> Erased:
    if not _has_table(job.home, "ingest_keys"):
        return Erased(0, 0, "clean")
    n = job.home.meta.execute("DELETE FROM ingest_keys WHERE vin = ?", (job.vin,))
    note = "a message of the vehicle redelivered later would be stored again" if n else ""
    return Erased(n, n, "erased" if n else "clean", note)


def _scan_ingest_keys(job: ErasureJob) -> int:
    if not _has_table(job.home, "ingest_keys"):
        return 0
    rows = job.home.meta.query("SELECT COUNT(*) FROM ingest_keys WHERE vin = ?", (job.vin,))
    return int(rows[0][0])


def database_tables(home: DataHome) -> list[str]:
    """Every table of the metadata database."""
    if home.meta.dialect == "sqlite":
        rows = home.meta.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = home.meta.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            (home.meta.schema,),
        )
    return sorted(str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_"))


def _columns(home: DataHome, table: str) -> list[tuple[str, bool]]:
    """(column, is a byte string) of ``table``."""
    if home.meta.dialect == "sqlite":
        rows = home.meta.query(f'PRAGMA table_info("{table}")')
        return [(str(r[1]), str(r[2]).upper() == "BLOB") for r in rows]
    rows = home.meta.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = ? AND table_name = ?",
        (home.meta.schema, table),
    )
    return [(str(r[0]), str(r[1]) == "bytea") for r in rows]


def scan_tables(home: DataHome, vin: str) -> dict[str, int]:
    """Rows of every table of the metadata database that hold ``vin`` in any column."""
    out: dict[str, int] = {}
    pg = home.meta.dialect == "postgresql"
    for table in database_tables(home):
        tests: list[str] = []
        params: list[Any] = []
        for column, blob in _columns(home, table):
            name = f'"{column}"'
            if blob:
                tests.append(
                    f"position(convert_to(?, 'UTF8') in {name}) > 0"
                    if pg
                    else f"instr({name}, CAST(? AS BLOB)) > 0"
                )
            else:
                tests.append(f"CAST({name} AS TEXT) LIKE ?")
                params.append(f"%{vin}%")
                continue
            params.append(vin)
        if not tests:
            continue
        if not _VIN_ONLY.match(vin):
            # a person's id: LIKE finds candidates ("geolife_000" is in "geolife_0001", and
            # "_" matches any character); a row counts when it holds the id as a whole token
            found = home.meta.query(f'SELECT * FROM "{table}" WHERE ' + " OR ".join(tests), params)
            hits = sum(1 for row in found if any(_holds(value, vin) for value in row))
            if hits:
                out[table] = hits
            continue
        rows = home.meta.query(
            f'SELECT COUNT(*) FROM "{table}" WHERE ' + " OR ".join(tests), params
        )
        if rows[0][0]:
            out[table] = int(rows[0][0])
    return out


_VIN_ONLY = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


def _holds(value: Any, subject: str) -> bool:
    if value is None:
        return False
    data = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value)
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    return count_vin_bytes(raw, subject) > 0


def _scan_all_tables(job: ErasureJob) -> int:
    found = scan_tables(job.home, job.vin)
    job.shared["tables_with_vin"] = found
    return sum(found.values())


def _erase_database_tables(job: ErasureJob) -> Erased:
    """Nothing to erase by itself: reports every table and which place claims it."""
    from onshore.store.places import claimed_tables

    tables = database_tables(job.home)
    unclaimed = sorted(set(tables) - claimed_tables())
    details: dict[str, Any] = {"tables": len(tables)}
    if unclaimed:
        details["unregistered_tables"] = unclaimed
    return Erased(0, 0, "clean", "every table rescanned for the VIN in any column", details)


# -- quarantine ----------------------------------------------------------------------------------
_BYTES_KEYS = ("payload", "payload_hex", "record", "raw", "line", "value", "values")


def _mentions(line: str, vin: str) -> bool:
    if count_vin_bytes(line.encode("utf-8"), vin):
        return True
    try:
        item = json.loads(line)
    except ValueError:
        return False
    blob = item.get("payload_hex") if isinstance(item, dict) else None
    if isinstance(blob, str):
        try:
            data = bytes.fromhex(blob)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
        except (ValueError, OSError, EOFError):
            return False
        return count_vin_bytes(data, vin) > 0
    return False


def _redact(line: str, vin: str, request_id: str) -> str | None:
    """The line without the message's bytes (reason, size, SHA-256 kept); None: drop it."""
    from onshore.store.places import mask_vins

    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict):
        return None
    kept: dict[str, Any] = {}
    for key, value in item.items():
        if key in _BYTES_KEYS:
            kept[key] = None
        elif isinstance(value, str):
            kept[key] = mask_vins(value).replace(vin, "[VIN]")
        elif isinstance(value, (int, float, bool)) or value is None:
            kept[key] = value
    kept["erased"] = request_id
    text = json.dumps(kept, ensure_ascii=False)
    return None if _mentions(text, vin) else text + "\n"


def quarantine_files(home: DataHome) -> list[Path]:
    folder = home.path / "quarantine"
    if not folder.is_dir():
        return []
    # every file but the workers' empty lock files (onshore.ingest.quarantine)
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _rewrite_lines(path: Path, lines: list[str]) -> None:
    if not lines:
        remove_atomic(path)
        return
    tmp = temp_path(path)
    create_private_file(tmp)
    tmp.write_text("".join(lines), encoding="utf-8")
    replace_atomic(tmp, path)


def _erase_quarantine(job: ErasureJob) -> Erased:
    found = redacted = dropped = files = 0
    for path in quarantine_files(job.home):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        out: list[str] = []
        touched = False
        for line in lines:
            if not _mentions(line, job.vin):
                out.append(line)
                continue
            touched = True
            found += 1
            new = _redact(line, job.vin, job.request_id)
            if new is None:
                dropped += 1
            else:
                redacted += 1
                out.append(new)
        if touched:
            files += 1
            _rewrite_lines(path, out)
    job.shared["quarantine"] = found
    note = "message bytes removed; reason, size and SHA-256 kept" if redacted else ""
    details = {"records_redacted": redacted, "records_removed": dropped, "files_rewritten": files}
    return Erased(found, found, "erased" if found else "clean", note, details)


def _scan_quarantine(job: ErasureJob) -> int:
    hits = 0
    for path in quarantine_files(job.home):
        data = path.read_bytes()
        hits += sum(
            1 for line in data.decode("utf-8", "replace").splitlines() if _mentions(line, job.vin)
        )
    return hits


def _line_time(line: str, fallback: datetime) -> datetime:
    try:
        item = json.loads(line)
        return parse_iso(item["at"]) if isinstance(item, dict) and "at" in item else fallback
    except (ValueError, KeyError, TypeError):
        return fallback


def _purge_quarantine(home: DataHome, now: datetime, dry_run: bool) -> Purged:
    retention = home.pack.retention
    assert retention is not None
    days = retention.place_days("quarantine") or retention.default_days
    cutoff = now - timedelta(days=days)
    removed = files = 0
    for path in quarantine_files(home):
        written = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        keep = [line for line in lines if _line_time(line, written) >= cutoff]
        if len(keep) == len(lines):
            continue
        removed += len(lines) - len(keep)
        files += 1
        if not dry_run:
            _rewrite_lines(path, keep)
    return Purged(
        {"quarantine_records": removed, "quarantine_files": files},
        details={"quarantine_days": days},
    )


# -- the database files --------------------------------------------------------------------------
def _sqlite_files(home: DataHome) -> list[Path]:
    path = home.meta.path
    if path is None:
        return []
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]


def _file_hits(paths: list[Path], vin: str) -> int:
    hits = 0
    for path in paths:
        with open(path, "rb") as fh:
            carry = b""
            for chunk in iter(lambda f=fh: f.read(1 << 20), b""):  # type: ignore[misc]
                data = carry + chunk
                hits += count_vin_bytes(data, vin)
                carry = data[-80:]
                hits -= count_vin_bytes(carry, vin)
            hits += count_vin_bytes(carry, vin)
    return hits


def _checkpoint(home: DataHome) -> tuple[int, int, int]:
    row = home.meta.query("PRAGMA wal_checkpoint(TRUNCATE)")[0]
    return int(row[0]), int(row[1]), int(row[2])


def _erase_database_files(job: ErasureJob) -> Erased:
    home = job.home
    if home.meta.dialect != "sqlite":
        touched = ["consents", "ingest_keys", "subject_requests"]
        for table in touched:
            if _has_table(home, table):
                home.meta.execute(f'VACUUM "{table}"')
        return Erased(
            0,
            0,
            "not_checkable",
            "PostgreSQL: VACUUM run on the tables touched; it makes the deleted rows' space "
            "reusable but does not zero it: the bytes stay in the table's pages until a later "
            "write reuses them (VACUUM FULL rewrites the table at once) and in the WAL until its "
            "segments are recycled (after the next checkpoint, beyond wal_keep_size); base "
            "backups and WAL archives are the pack's backups",
            {"vacuumed": touched},
        )
    secure = int(home.meta.query("PRAGMA secure_delete")[0][0])
    busy, _log, _done = _checkpoint(home)
    files = _sqlite_files(home)
    hits = _file_hits(files, job.vin)
    vacuumed = False
    if hits or busy:
        home.meta.execute("VACUUM")
        vacuumed = True
        busy, _log, _done = _checkpoint(home)
        hits = _file_hits(files, job.vin)
    details = {
        "secure_delete": bool(secure),
        "wal_truncated": busy == 0,
        "vacuum": vacuumed,
        "files": [p.name for p in files],
    }
    return Erased(0, 0, "clean", "freed pages zeroed (secure_delete); WAL truncated", details)


def _scan_database_files(job: ErasureJob) -> int | None:
    if job.home.meta.dialect != "sqlite":
        return None
    return _file_hits(_sqlite_files(job.home), job.vin)


# -- places outside the home, or without personal data ----------------------------------------
def _subject_exports(job: ErasureJob) -> Erased:
    refs = set(job.home.subject_refs(job.vin))
    marks = ", ".join("?" for _ in refs)
    rows = job.home.meta.query(
        "SELECT id, completed_at FROM subject_requests"
        f" WHERE kind = 'access' AND subject IN ({marks})",
        sorted(refs),
    )
    exports = [{"request": str(r[0]), "at": str(r[1])} for r in rows]
    return Erased(
        len(exports),
        0,
        "not_checkable",
        "subject-export zips are handed to the person or written where the operator said; "
        "none is kept in the home (the service builds them in a temporary folder)",
        {"access_requests": exports},
    )


def _backups(job: ErasureJob) -> Erased:
    retention = job.home.pack.retention
    backups = retention.backups if retention is not None else None
    if backups is None or not backups.held:
        note = backups.description if backups is not None else "no backups declared in the pack"
        return Erased(0, 0, "no_personal_data", note)
    return Erased(
        0,
        0,
        "retained",
        f"{backups.description}; {backups.erasure}",
        {
            "max_days": backups.max_days,
            "legal_ref": str(job.home.pack.legal_ref(backups.ref)),
        },
    )


def _legal_holds(job: ErasureJob) -> Erased:
    retention = job.home.pack.retention
    holds = retention.legal_holds if retention is not None else []
    listed = [
        {
            "id": h.id,
            "enabled": h.enabled,
            "datasets": list(h.datasets),
            "legal_ref": str(job.home.pack.legal_ref(h.ref)),
        }
        for h in holds
    ]
    kept = job.shared.get("lake", {}).get("held", {})
    status: Status = "retained" if kept else "no_personal_data"
    note = "rows kept under an enabled hold: see the lake" if kept else "no hold applied"
    return Erased(sum(kept.values()), 0, status, note, {"holds": listed})


PLACES = (
    Place(
        "lake",
        "telemetry rows in every store's Parquet lake (raw VINs, positions)",
        tables=("lake_files", "datasets", "stores"),
        paths=("lake", "stores"),
        erase=_erase_lake,
        scan=_scan_lake,
        order=10,
    ),
    Place(
        "consents",
        "consent records (VIN, person)",
        tables=("consents",),
        erase=_erase_consents,
        scan=_scan_consents,
        order=20,
    ),
    Place(
        "ingest-keys",
        "idempotency keys of ingested rows (VIN, timestamp)",
        tables=("ingest_keys", "ingest_batches"),
        erase=_erase_ingest_keys,
        scan=_scan_ingest_keys,
        order=20,
    ),
    Place(
        "quarantine",
        "rejected messages and records (bounded payloads, VINs and positions)",
        paths=("quarantine",),
        erase=_erase_quarantine,
        scan=_scan_quarantine,
        purge=_purge_quarantine,
        order=30,
    ),
    Place(
        "ingest-workers",
        "the ingest workers' heartbeats (worker name, host, process id, last seen): no VIN",
        tables=("ingest_workers",),
        erase=lambda job: Erased(
            0, 0, "no_personal_data", "worker names, hosts and process ids only"
        ),
        order=85,
    ),
    Place(
        "metadata-tables",
        "every table of the metadata database, rescanned for the VIN in any column",
        tables=(
            "onshore_migrations",
            "subject_requests",
            "service_api_keys",
            "incidents",
            "complaints",
            "ledger_entries",
            "ledger_heads",
            "ledger_state",
            "ledger_nodes",
        ),
        erase=_erase_database_tables,
        scan=_scan_all_tables,
        order=80,
    ),
    Place(
        "database-files",
        "the metadata database's files (free pages, write-ahead log)",
        paths=("meta.db", "meta.db-*", "meta.db.*"),  # -wal, -shm, -journal, .ledger-lock
        erase=_erase_database_files,
        scan=_scan_database_files,
        order=90,
    ),
    Place(
        "configuration",
        "the processor's config.yaml and the sensitive-area catalogue: no personal data",
        paths=("config.yaml", "areas.geojson"),
        note="settings only",
    ),
    Place(
        "keys",
        "the keystore (signing and pseudonymization keys): no personal data",
        paths=("keys",),
        note="keys only",
    ),
    Place(
        "logs",
        "logs Onshore writes (uvicorn access log, ingest worker, service errors)",
        erase=lambda job: Erased(
            0,
            0,
            "not_checkable",
            "VINs are masked in every log record Onshore and uvicorn create (onshore.logs); "
            "where the operator ships stderr (journald, a collector) is outside the home",
        ),
        order=95,
    ),
    Place(
        "subject-exports",
        "subject-export zips (access requests)",
        erase=_subject_exports,
        order=95,
    ),
    Place(
        "reports",
        "annual reports and report figures: aggregates, no VIN",
        erase=lambda job: Erased(
            0, 0, "no_personal_data", "written where the operator says; counts only, no VIN"
        ),
        order=95,
    ),
    Place(
        "spark-outputs",
        "outputs of onshore's Spark jobs (classified or desensitized tables)",
        erase=lambda job: Erased(
            0,
            0,
            "not_checkable",
            "written to the operator's paths outside the home; the ledger names each job",
        ),
        order=95,
    ),
    Place(
        "backups",
        "backups of the data home (the pack's retention.yaml backups)",
        erase=_backups,
        order=96,
    ),
    Place(
        "legal-holds",
        "data kept because a law says so (the pack's retention.yaml legal_holds)",
        erase=_legal_holds,
        order=96,
    ),
)
