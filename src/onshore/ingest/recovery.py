"""After a crash: settle the batches a dead worker claimed but never confirmed.

For each ``pending`` batch of this worker, the lake files of its dataset written since the
batch began are read (only the key columns) and the batch's keys found there are kept as
stored; the others are released so the broker's redelivery stores them. A file that reached
its final place but was never indexed (the worker died inside the commit) holds nothing the
ledger knows of: it is removed, and its rows arrive again by redelivery. A batch whose files
are indexed but whose ``storage`` ledger entry is missing gets one, marked ``recovered``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from onshore.ingest.decode import Key
from onshore.ingest.keys import KeyIndex, Pending
from onshore.ledger import Activity
from onshore.store.atomic import remove_atomic
from onshore.store.db import parse_iso
from onshore.store.lake import Lake, file_meta


@dataclass(frozen=True)
class Recovered:
    """What recovery settled for one pending batch."""

    batch: str
    dataset: str
    keys: int
    found: int
    released: int
    files: tuple[str, ...]
    removed_unindexed: tuple[str, ...]
    ledger_entry_added: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "dataset": self.dataset,
            "keys": self.keys,
            "found": self.found,
            "released": self.released,
            "files": list(self.files),
            "removed_unindexed": list(self.removed_unindexed),
            "ledger_entry_added": self.ledger_entry_added,
        }


def file_keys(path: Path) -> set[Key]:
    """The ``(vin, ts, kind)`` keys of the rows of one lake file."""
    schema = pq.ParquetFile(path).schema_arrow
    meta = file_meta(schema)
    vin_col = meta.get("vin_column") or "vin"
    ts_col = meta.get("ts_column") or "ts"
    if vin_col not in schema.names or ts_col not in schema.names:
        return set()
    command = "gbt32960.command" if "gbt32960.command" in schema.names else None
    table = pq.read_table(path, columns=[c for c in (vin_col, ts_col, command) if c])
    vins = table.column(vin_col).to_pylist()
    ts = table.column(ts_col).cast("int64").to_pylist()
    kinds = (
        [f"gbt32960:{c}" for c in table.column(command).to_pylist()]
        if command
        else ["json"] * len(vins)
    )
    return {(v, t, k) for v, t, k in zip(vins, ts, kinds, strict=True) if v is not None}


def recover(index: KeyIndex, *, batch: str | None = None) -> list[Recovered]:
    """Settle every pending batch of ``index.worker`` (or only ``batch``); see the module doc."""
    return [_settle(index, p) for p in index.pending() if batch is None or p.batch == batch]


def _settle(index: KeyIndex, pending: Pending) -> Recovered:
    home = index.home
    keys = index.keys_of(pending.batch)
    started = parse_iso(pending.started_at)
    found: set[Key] = set()
    files: list[str] = []
    removed: list[str] = []
    lake = Lake(home)
    indexed = {(f.store, f.path): f for f in lake.files(dataset=pending.dataset)}
    for store in home.stores():
        folder = store.root / f"dataset={pending.dataset}"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("date=*/part-*.parquet")):
            rel = path.relative_to(store.root).as_posix()
            known = indexed.get((store.name, rel))
            if known is not None and parse_iso(known.written_at) < started:
                continue
            if known is None and _mtime(path) < started.timestamp() - 2:
                continue
            hits = file_keys(path) & keys
            if not hits:
                continue
            if known is None:
                remove_atomic(path)
                removed.append(rel)
                continue
            found |= hits
            files.append(rel)
    index.keep_only(pending.batch, found, files)
    added = False
    if files and not _storage_recorded(index, pending, files):
        home.record(
            Activity.STORAGE,
            purpose=pending.purpose,
            dataset=pending.dataset,
            counts={"rows": len(found), "files": len(files)},
            decision="stored (recovered after a worker crash)",
            details={"files": files, "batch": pending.batch, "recovered": True},
        )
        added = True
    return Recovered(
        pending.batch,
        pending.dataset,
        len(keys),
        len(found),
        len(keys) - len(found),
        tuple(files),
        tuple(removed),
        added,
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return datetime.now().timestamp()


def _storage_recorded(index: KeyIndex, pending: Pending, files: list[str]) -> bool:
    wanted = set(files)
    for _i, entry in index.home.ledger.entries(
        kind=Activity.STORAGE, dataset=pending.dataset, start=pending.ledger_size
    ):
        if wanted & set(entry.details.get("files", [])):
            return True
    return False
