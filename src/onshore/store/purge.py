"""Retention: remove stored rows that are past the pack's retention for what they hold.

A row goes when any of its non-null columns belongs to a category whose retention
(``retention.yaml``: the category's period, or its nearest listed ancestor's, or the default)
has run out, counted from the row's collection time (its timestamp column; the file's write
time when it has none). Conservative on purpose: the whole row goes, not just the column.
Each file is rewritten atomically; each dataset purged gets a ``deletion`` ledger entry.

The other places of the registry (:mod:`onshore.store.places`) age out too: outbox packages
with the shortest period of the categories they carry, the quarantine with its ``places``
period in ``retention.yaml``. What they removed is one more ``deletion`` entry (dataset ``*``,
purpose ``retention``) whose counts name each kind (``outbox_packages``,
``quarantine_records``, ...) and whose details give the periods: the annual report's
retention section reads them from the ledger.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.errors import PackError
from onshore.ledger import Activity
from onshore.store.db import iso, parse_iso
from onshore.store.home import DataHome
from onshore.store.lake import Lake, LakeFile, file_meta


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (or, with ``dry_run``, would remove)."""

    now: str
    dry_run: bool
    rows_removed: dict[str, int]
    files_rewritten: int
    files_removed: int
    files_scanned: int
    seconds: float
    places: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expired_mask(home: DataHome, table: pa.Table, lake_file: LakeFile, now: datetime) -> np.ndarray:
    """True for the rows of ``table`` that are past retention at ``now``."""
    pack = home.pack
    if pack.retention is None:
        raise PackError(f"pack {pack.name!r} has no retention.yaml")
    n = table.num_rows
    ts_column = file_meta(table.schema).get("ts_column") or ""
    if ts_column in table.schema.names and pa.types.is_timestamp(
        table.schema.field(ts_column).type
    ):
        ts = pc.cast(pc.cast(table.column(ts_column), pa.timestamp("ms")), pa.int64())
        fallback = (
            int(parse_iso(lake_file.written_at).timestamp() * 1000) if lake_file.written_at else 0
        )
        times = np.asarray(pc.fill_null(ts, fallback).to_numpy(zero_copy_only=False))
    else:
        written = parse_iso(lake_file.written_at) if lake_file.written_at else now
        times = np.full(n, int(written.timestamp() * 1000), dtype=np.int64)
    expired = np.zeros(n, dtype=bool)
    for name in table.schema.names:
        if name.startswith("onshore_"):
            continue
        category = pack.resolve_field(name).category
        days = pack.retention.days_for(pack, category)
        cutoff = int((now - timedelta(days=days)).timestamp() * 1000)
        valid = np.asarray(pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False))
        expired |= valid & (times < cutoff)
    return expired


def purge(home: DataHome, *, now: datetime | None = None, dry_run: bool = False) -> PurgeResult:
    """Apply retention to every lake file of every store."""
    started = time.perf_counter()
    moment = now or home.now()
    lake = Lake(home)
    removed: dict[str, int] = {}
    rewritten = dropped = scanned = 0
    for store, lake_file in list(lake.all_files()):
        scanned += 1
        if dry_run:
            table = lake.read_table(store, lake_file)
            count = int(expired_mask(home, table, lake_file, moment).sum())
        else:

            def unexpired(table: pa.Table, f: LakeFile = lake_file) -> pa.Array:
                return pa.array(~expired_mask(home, table, f, moment))

            rewrite = lake.rewrite(store, lake_file, unexpired, action="retention purge")
            count = rewrite.removed
            if count:
                if rewrite.path is not None:
                    rewritten += 1
                else:
                    dropped += 1
        if count:
            removed[lake_file.dataset] = removed.get(lake_file.dataset, 0) + count
    if not dry_run:
        for dataset, count in sorted(removed.items()):
            home.record(
                Activity.DELETION,
                purpose="retention",
                dataset=dataset,
                counts={"rows": count},
                decision="purged",
                reasons=(f"{home.pack.name}/retention/period",),
                details={"now": iso(moment)},
            )
    from onshore.store.places import places

    by_place: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    details: dict[str, object] = {"now": iso(moment)}
    for place in places():
        if place.purge is None:
            continue
        done = place.purge(home, moment, dry_run)
        by_place[place.name] = dict(done.counts)
        for key, n in done.counts.items():
            counts[key] = counts.get(key, 0) + n
        details.update(done.details)
    if not dry_run and any(counts.values()):
        home.record(
            Activity.DELETION,
            purpose="retention",
            dataset="*",
            counts=counts,
            decision="purged",
            reasons=(f"{home.pack.name}/retention/period",),
            details={**details, "places": sorted(by_place)},
        )
    return PurgeResult(
        iso(moment),
        dry_run,
        removed,
        rewritten,
        dropped,
        scanned,
        time.perf_counter() - started,
        by_place,
    )
