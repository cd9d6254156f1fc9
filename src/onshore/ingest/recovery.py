"""After a crash: settle the batches a dead worker claimed but never confirmed.

For each ``pending`` batch of this worker, the lake files of its dataset written since the
batch began are read (only the key columns, on whatever file system the store's lake is) and
the batch's keys found there are kept as stored; the others are released so the broker's
redelivery stores them. A file that reached its final place but was never indexed (the worker
died inside the commit) holds nothing the ledger knows of: it is removed, and its rows arrive
again by redelivery. A batch whose files are indexed but whose ledger entries are missing
(a put appends its ``collection`` and ``storage`` entries together, after the index) gets
both, marked ``recovered``. A worker settles its own batches when it starts, and
those of a dead worker it meets (:mod:`onshore.ingest.keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from onshore.ingest.decode import Key
from onshore.ingest.keys import KeyIndex, Pending
from onshore.ledger import Activity
from onshore.store.atomic import storage_fault
from onshore.store.db import parse_iso
from onshore.store.fs import LakeRoot
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
    """The ``(vin, ts, kind)`` keys of the rows of one lake file on the local disk."""
    return _keys(pq.ParquetFile(path).schema_arrow, lambda cols: pq.read_table(path, columns=cols))


def lake_file_keys(root: LakeRoot, rel: str) -> set[Key]:
    """The keys of the rows of the lake file ``rel`` of ``root`` (any file system)."""
    return _keys(root.read_schema(rel), lambda cols: root.read_table(rel, columns=cols))


def _keys(schema: pa.Schema, read: Callable[[list[str]], pa.Table]) -> set[Key]:
    meta = file_meta(schema)
    vin_col = meta.get("vin_column") or "vin"
    ts_col = meta.get("ts_column") or "ts"
    if vin_col not in schema.names or ts_col not in schema.names:
        return set()
    command = "gbt32960.command" if "gbt32960.command" in schema.names else None
    table = read([c for c in (vin_col, ts_col, command) if c])
    vins = table.column(vin_col).to_pylist()
    ts = table.column(ts_col).cast("int64").to_pylist()
    kinds = (
        [f"gbt32960:{c}" for c in table.column(command).to_pylist()]
        if command
        else ["json"] * len(vins)
    )
    return {(v, t, k) for v, t, k in zip(vins, ts, kinds, strict=True) if v is not None}


def dataset_files(root: LakeRoot, dataset: str) -> list[str]:
    """The Parquet files of ``dataset`` under ``root`` (relative paths, sorted), listing only
    that dataset's folder."""
    folder = f"dataset={dataset}"
    selector = pafs.FileSelector(root.full(folder), recursive=True, allow_not_found=True)
    found = []
    for info in root.fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        tail = info.path.lstrip("/").split(f"{folder}/", 1)
        parts = tail[-1].split("/")
        if (
            len(tail) == 2
            and len(parts) == 2
            and parts[0].startswith("date=")
            and not parts[1].startswith((".", "_"))
        ):
            found.append(f"{folder}/{tail[1]}")
    return sorted(found)


def recover(index: KeyIndex, *, batch: str | None = None) -> list[Recovered]:
    """Settle every pending batch of ``index.worker`` (or only ``batch``); see the module doc.

    Raises ``StorageError`` (the batch stays pending) if the lake cannot be read."""
    out = []
    for pending in index.pending():
        if batch is None or pending.batch == batch:
            try:
                out.append(_settle(index, pending))
            except OSError as exc:
                raise storage_fault(f"cannot settle batch {pending.batch}", exc) from exc
    return out


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
        root = store.lake
        for rel in dataset_files(root, pending.dataset):
            known = indexed.get((store.name, rel))
            if known is not None and parse_iso(known.written_at) < started:
                continue
            if known is None and _mtime(root, rel) < started.timestamp() - 2:
                continue
            hits = lake_file_keys(root, rel) & keys
            if not hits:
                continue
            if known is None:
                root.delete(rel)
                removed.append(rel)
                continue
            found |= hits
            files.append(rel)
    index.keep_only(pending.batch, found, files)
    added = False
    if files and not _storage_recorded(index, pending, files):
        # A put appends its collection and storage entries together once its files are
        # indexed (onshore.pipeline), so a crash in between left neither: both are recorded.
        recovered = {"batch": pending.batch, "recovered": True}
        home.ledger.append_many(
            [
                home.entry(
                    Activity.COLLECTION,
                    purpose=pending.purpose,
                    dataset=pending.dataset,
                    counts={"rows": len(found)},
                    decision="collected (recovered after a worker crash)",
                    details=recovered,
                ),
                home.entry(
                    Activity.STORAGE,
                    purpose=pending.purpose,
                    dataset=pending.dataset,
                    counts={"rows": len(found), "files": len(files)},
                    decision="stored (recovered after a worker crash)",
                    details={"files": files, **recovered},
                ),
            ]
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


def _mtime(root: LakeRoot, rel: str) -> float:
    try:
        moment = root.mtime(rel)
    except OSError:
        moment = None
    return moment if moment is not None else datetime.now().timestamp()


def _storage_recorded(index: KeyIndex, pending: Pending, files: list[str]) -> bool:
    wanted = set(files)
    for _i, entry in index.home.ledger.entries(
        kind=Activity.STORAGE, dataset=pending.dataset, start=pending.ledger_size
    ):
        if wanted & set(entry.details.get("files", [])):
            return True
    return False
