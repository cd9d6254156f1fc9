"""The Parquet lake of a store: ``dataset=NAME/date=YYYY-MM-DD/part-ID.parquet``.

Rows are stored with their labels (``onshore_level``, ``onshore_reasons``, ``onshore_area``), so
every later rewrite (deletion, purge) knows the level of what it writes and checks residency
again: every path that puts bytes into a store goes through :func:`enforce_residency` first.

A put is staged: batches are checked and written under ``STORE/.staging/ID/``, then moved into
place (fsync + rename) and indexed in ``lake_files`` when the whole input was read and the
dataset's final level is known. A rewrite is atomic (see ``onshore.store.atomic``).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from onshore.errors import BadInput, StorageError
from onshore.ledger import Activity
from onshore.model import Level
from onshore.private import create_private_file
from onshore.store.atomic import (
    fsync_file,
    remove_atomic,
    remove_stale_temps,
    replace_atomic,
    storage_fault,
    write_parquet_atomic,
)
from onshore.store.db import iso
from onshore.store.home import DataHome, StoreInfo
from onshore.store.residency import enforce_residency, table_level
from onshore.times import out_of_range, range_text

META_PREFIX = b"onshore."
_COLUMNS = (
    "store, path, dataset, part_date, rows, bytes, level, categories, min_ts, max_ts, written_at"
)


@dataclass(frozen=True)
class LakeFile:
    """One Parquet file of a store, as indexed in ``lake_files``."""

    store: str
    path: str  # relative to the store's root, with forward slashes
    dataset: str
    part_date: str
    rows: int
    bytes: int
    level: str
    categories: tuple[str, ...] = ()
    min_ts: str | None = None
    max_ts: str | None = None
    written_at: str = ""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LakeFile:
        store, path, dataset, part_date, rows, size, level, cats, lo, hi, written = row
        return cls(
            store,
            path,
            dataset,
            part_date,
            int(rows),
            int(size),
            level,
            tuple(json.loads(cats)),
            lo,
            hi,
            written,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "path": self.path,
            "dataset": self.dataset,
            "date": self.part_date,
            "rows": self.rows,
            "bytes": self.bytes,
            "level": self.level,
            "categories": list(self.categories),
            "min_ts": self.min_ts,
            "max_ts": self.max_ts,
            "written_at": self.written_at,
        }


def file_meta(schema: pa.Schema) -> dict[str, str]:
    """The ``onshore.*`` key/values of a lake file's schema (dataset, origin, vin/ts column)."""
    raw = schema.metadata or {}
    return {
        k[len(META_PREFIX) :].decode(): v.decode()
        for k, v in raw.items()
        if k.startswith(META_PREFIX)
    }


def _ts_range(table: pa.Table, ts_column: str | None) -> tuple[str | None, str | None]:
    if ts_column is None or ts_column not in table.schema.names or table.num_rows == 0:
        return None, None
    bounds = pc.min_max(table.column(ts_column))
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if not isinstance(lo, datetime) or not isinstance(hi, datetime):
        return None, None
    return iso(lo if lo.tzinfo else lo.replace(tzinfo=UTC)), iso(
        hi if hi.tzinfo else hi.replace(tzinfo=UTC)
    )


@dataclass
class _Part:
    writer: pq.ParquetWriter
    staged: Path
    final: Path
    rows: int = 0
    level: Level = Level.GENERAL
    ts: list[str] = field(default_factory=list)


class StagedWrite:
    """A put in progress: batches are checked, then staged; :meth:`commit` publishes them."""

    def __init__(
        self,
        home: DataHome,
        store: StoreInfo,
        dataset: str,
        *,
        origin: str,
        vin_column: str | None,
        ts_column: str | None,
    ) -> None:
        self.home, self.store, self.dataset, self.origin = home, store, dataset, origin
        self.vin_column, self.ts_column = vin_column, ts_column
        stamp = home.now().astimezone(UTC)
        self.id = f"{stamp:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        self._staging = store.root / ".staging" / self.id
        self._parts: dict[str, _Part] = {}
        self._meta = {
            META_PREFIX + b"dataset": dataset.encode(),
            META_PREFIX + b"origin": origin.encode(),
            META_PREFIX + b"vin_column": (vin_column or "").encode(),
            META_PREFIX + b"ts_column": (ts_column or "").encode(),
        }
        self._today = stamp.date().isoformat()
        self.rows = 0

    def add(self, batch: pa.RecordBatch, categories: Sequence[str] = ()) -> None:
        """Check one labelled batch for residency, then stage it by date."""
        if batch.num_rows == 0:
            return
        level = table_level(batch)
        enforce_residency(
            self.home,
            self.store,
            dataset=self.dataset,
            origin=self.origin,
            level=level,
            rows=batch.num_rows,
            action="put",
            categories=categories,
        )
        for day, part in self._split(batch):
            try:
                self._write(day, part, table_level(part))
            except OSError as exc:  # disk full, file too large, permission denied
                raise storage_fault(f"cannot stage {self.dataset} in {self._staging}", exc) from exc

    def _split(self, batch: pa.RecordBatch) -> Iterator[tuple[str, pa.RecordBatch]]:
        if self.ts_column is None or self.ts_column not in batch.schema.names:
            yield self._today, batch
            return
        ts = batch.column(self.ts_column)
        if not pa.types.is_timestamp(ts.type):
            yield self._today, batch
            return
        bad = out_of_range(ts)
        if bad.any():  # readers quarantine these rows; a time that got this far is refused
            raise BadInput(
                f"time out of range ({range_text()})",
                record=int(bad.argmax()),
                field=self.ts_column,
            )
        days = pc.fill_null(pc.cast(ts, pa.date32()), date.fromisoformat(self._today))
        unique = pc.unique(days)
        if len(unique) == 1:
            yield unique[0].as_py().isoformat(), batch
            return
        for value in unique:
            yield value.as_py().isoformat(), batch.filter(pc.equal(days, value))

    def _write(self, day: str, batch: pa.RecordBatch, level: Level) -> None:
        part = self._parts.get(day)
        if part is None:
            rel = Path(f"dataset={self.dataset}") / f"date={day}" / f"part-{self.id}.parquet"
            staged = self._staging / rel
            create_private_file(staged)  # 0600 in 0700 folders, whatever the umask
            schema = batch.schema.with_metadata({**(batch.schema.metadata or {}), **self._meta})
            writer = pq.ParquetWriter(staged, schema, compression="zstd")
            part = self._parts[day] = _Part(writer, staged, self.store.root / rel)
        if batch.schema != part.writer.schema:
            batch = pa.RecordBatch.from_arrays(
                [c.cast(f.type) for c, f in zip(batch.columns, part.writer.schema, strict=True)],
                schema=part.writer.schema,
            )
        part.writer.write_batch(batch)
        part.rows += batch.num_rows
        part.level = max(part.level, level)
        lo, hi = _ts_range(pa.Table.from_batches([batch]), self.ts_column)
        if lo and hi:
            part.ts = [min([lo, *part.ts[:1]]), max([hi, *part.ts[1:]])]
        self.rows += batch.num_rows

    def commit(self, *, level: Level, categories: Sequence[str]) -> list[LakeFile]:
        """Check the dataset's final level, publish the staged files and index them."""
        enforce_residency(
            self.home,
            self.store,
            dataset=self.dataset,
            origin=self.origin,
            level=level,
            rows=self.rows,
            action="put",
            categories=categories,
        )
        written = iso(self.home.now())
        files: list[LakeFile] = []
        for day, part in sorted(self._parts.items()):
            try:
                part.writer.close()
                fsync_file(part.staged)
                size = part.staged.stat().st_size
            except OSError as exc:
                raise storage_fault(f"cannot finish {part.staged}", exc) from exc
            replace_atomic(part.staged, part.final)
            rel = part.final.relative_to(self.store.root).as_posix()
            files.append(
                LakeFile(
                    self.store.name,
                    rel,
                    self.dataset,
                    day,
                    part.rows,
                    size,
                    part.level.label,
                    tuple(categories),
                    part.ts[0] if part.ts else None,
                    part.ts[1] if part.ts else None,
                    written,
                )
            )
        shutil.rmtree(self._staging, ignore_errors=True)
        meta = self.home.meta
        with meta.transaction():
            if meta.query("SELECT 1 FROM datasets WHERE name = ?", (self.dataset,)):
                meta.execute(
                    "UPDATE datasets SET vin_column = ?, ts_column = ? WHERE name = ?",
                    (self.vin_column, self.ts_column, self.dataset),
                )
            else:
                meta.execute(
                    "INSERT INTO datasets VALUES (?, ?, ?, ?, ?)",
                    (self.dataset, self.origin, self.vin_column, self.ts_column, written),
                )
            meta.executemany(
                f"INSERT INTO lake_files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_row(f) for f in files],
            )
        return files

    def abort(self) -> None:
        for part in self._parts.values():
            with contextlib.suppress(Exception):  # best effort on the way out
                part.writer.close()
        shutil.rmtree(self._staging, ignore_errors=True)


def _row(f: LakeFile) -> tuple[Any, ...]:
    return (
        f.store,
        f.path,
        f.dataset,
        f.part_date,
        f.rows,
        f.bytes,
        f.level,
        json.dumps(list(f.categories)),
        f.min_ts,
        f.max_ts,
        f.written_at,
    )


class Lake:
    """The files of every store of a home: listing, reading and atomic rewriting."""

    def __init__(self, home: DataHome) -> None:
        self.home = home

    def stage(
        self,
        dataset: str,
        *,
        store: str,
        origin: str,
        vin_column: str | None,
        ts_column: str | None,
    ) -> StagedWrite:
        if not dataset or "/" in dataset or "=" in dataset or dataset.startswith("."):
            raise StorageError(f"bad dataset name {dataset!r}")
        known = self.home.dataset_origin(dataset)
        if known is not None and known != origin:
            raise StorageError(f"dataset {dataset!r} holds data from {known}, not {origin}")
        return StagedWrite(
            self.home,
            self.home.store(store),
            dataset,
            origin=origin,
            vin_column=vin_column,
            ts_column=ts_column,
        )

    def files(self, *, dataset: str | None = None, store: str | None = None) -> list[LakeFile]:
        """Indexed files, by store, dataset, date and path."""
        where, params = [], []
        if dataset is not None:
            where.append("dataset = ?")
            params.append(dataset)
        if store is not None:
            where.append("store = ?")
            params.append(store)
        sql = f"SELECT {_COLUMNS} FROM lake_files"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.home.meta.query(sql + " ORDER BY store, dataset, part_date, path", params)
        return [LakeFile.from_row(r) for r in rows]

    def all_files(self) -> Iterator[tuple[StoreInfo, LakeFile]]:
        """Every Parquet file on disk in every store, indexed or not (a crash may leave one)."""
        for store in self.home.stores():
            remove_stale_temps(store.root)
            indexed = {f.path: f for f in self.files(store=store.name)}
            if not store.root.is_dir():
                continue
            for path in sorted(store.root.glob("dataset=*/date=*/*.parquet")):
                if path.name.startswith("."):
                    continue
                rel = path.relative_to(store.root).as_posix()
                yield store, indexed.get(rel) or self._unindexed(store, path, rel)

    def _unindexed(self, store: StoreInfo, path: Path, rel: str) -> LakeFile:
        meta = pq.ParquetFile(path).metadata
        dataset = rel.split("/", 1)[0].removeprefix("dataset=")
        day = rel.split("/")[1].removeprefix("date=")
        return LakeFile(store.name, rel, dataset, day, meta.num_rows, path.stat().st_size, "")

    def rewrite(
        self,
        store: StoreInfo,
        lake_file: LakeFile,
        keep: Callable[[pa.Table], pa.Array],
        *,
        action: str,
        before_replace: Callable[[Path], None] | None = None,
    ) -> int:
        """Keep the rows where ``keep(table)`` is true; returns how many rows were removed.

        The file is rewritten atomically (or removed when nothing is left) and its index row
        updated. What remains is checked for residency like any other write.
        """
        path = store.root / lake_file.path
        table = pq.read_table(path)
        mask = keep(table)
        kept = table.filter(mask)
        removed = int(table.num_rows - kept.num_rows)
        if removed == 0:
            return 0
        meta = file_meta(table.schema)
        key = (store.name, lake_file.path)
        if kept.num_rows == 0:
            remove_atomic(path)
            self.home.meta.execute("DELETE FROM lake_files WHERE store = ? AND path = ?", key)
            return removed
        origin = meta.get("origin") or self.home.dataset_origin(lake_file.dataset) or ""
        level = table_level(kept)
        enforce_residency(
            self.home,
            store,
            dataset=lake_file.dataset,
            origin=origin,
            level=level,
            rows=kept.num_rows,
            action=action,
        )
        size = write_parquet_atomic(path, kept, before_replace=before_replace)
        lo, hi = _ts_range(kept, meta.get("ts_column") or None)
        self.home.meta.execute(
            "UPDATE lake_files SET rows = ?, bytes = ?, level = ?, min_ts = ?, max_ts = ?"
            " WHERE store = ? AND path = ?",
            (kept.num_rows, size, level.label, lo, hi, *key),
        )
        return removed

    def read_vin(self, store: StoreInfo, lake_file: LakeFile, vin: str) -> pa.Table | None:
        """The rows of ``vin`` in one file (row groups pruned by their statistics)."""
        path = store.root / lake_file.path
        pf = pq.ParquetFile(path)
        column = file_meta(pf.schema_arrow).get("vin_column") or ""
        if not column or column not in pf.schema_arrow.names:
            return None
        index = pf.schema_arrow.get_field_index(column)
        groups = [g for g in range(pf.metadata.num_row_groups) if _may_hold(pf, g, index, vin)]
        if not groups:
            return pf.schema_arrow.empty_table()
        # One row group at a time: Arrow cannot read a nested dictionary column (the labels'
        # onshore_reasons) of several row groups in one call ("nested data conversions").
        tables = [pf.read_row_group(g) for g in groups]
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return table.filter(pc.equal(table.column(column), vin))


def _may_hold(pf: pq.ParquetFile, group: int, index: int, vin: str) -> bool:
    stats = pf.metadata.row_group(group).column(index).statistics
    if stats is None or not stats.has_min_max:
        return True
    lo, hi = stats.min, stats.max
    if isinstance(lo, bytes):
        lo, hi = lo.decode(), hi.decode()
    return bool(lo <= vin <= hi)


def vin_column_of(path: Path) -> str | None:
    """The VIN column a lake file declares, or ``None``."""
    return file_meta(pq.ParquetFile(path).schema_arrow).get("vin_column") or None


def record_storage(
    home: DataHome,
    files: Sequence[LakeFile],
    *,
    dataset: str,
    purpose: str,
    categories: Sequence[str],
    counts: dict[str, int],
    details: dict[str, Any],
) -> None:
    """The ``storage`` ledger entry of a put."""
    home.record(
        Activity.STORAGE,
        purpose=purpose,
        dataset=dataset,
        categories=tuple(categories),
        counts={**counts, "files": len(files), "bytes": sum(f.bytes for f in files)},
        decision="stored",
        details={**details, "files": [f.path for f in files]},
    )
