"""The Parquet lake of a store: ``dataset=NAME/date=YYYY-MM-DD/part-ID.parquet``.

Rows are stored with their labels (``onshore_level``, ``onshore_reasons``, ``onshore_area``), so
every later rewrite (deletion, purge) knows the level of what it writes and checks residency
again: every path that puts bytes into a store goes through :func:`enforce_residency` first.

The lake is on any file system (:mod:`onshore.store.fs`: a local folder, S3-compatible object
storage, HDFS) and never renames, since an object store has no atomic rename:

* **The index is the commit point.** A put writes each file once, under a unique final name
  (time, random, writer), closes it (and fsyncs it on a local disk), and only then inserts its
  ``lake_files`` row, in one transaction with the others of the put. Readers list the index,
  never the folder, so they never see a file in progress or one of a refused or crashed put.
* **A rewrite (erasure, retention) is a new file.** The rows kept are written to a new name;
  the index row is swapped to it in one transaction; only then is the old file deleted. A
  reader holds the old name or the new one, both whole; a crash leaves at worst an unindexed
  file, which :meth:`Lake.all_files` still lists (erasure must find every copy) and removes once
  its writer is gone (same host, process ended).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from onshore.errors import BadInput, StorageError
from onshore.ledger import Activity, LedgerEntry
from onshore.model import Level
from onshore.store.atomic import ROW_GROUP_ROWS, remove_stale_temps, storage_fault
from onshore.store.db import iso
from onshore.store.fs import LakeRoot
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


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def new_file_id(moment: datetime) -> str:
    """A lake file id no other writer picks: UTC time, 64 random bits, host and process.

    >>> new_file_id(datetime(2026, 1, 1, tzinfo=UTC))[:16]
    '20260101T000000-'
    """
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(8)}-h{_HOST}p{os.getpid()}"


def _orphan_of_dead_writer(rel: str) -> bool:
    """Whether an unindexed file was written by a process of this host that has ended."""
    marker = rel.rsplit("-", 1)[-1].removesuffix(".parquet")
    host, _, pid = marker.removeprefix("h").partition("p")
    if not marker.startswith("h") or host != _HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class _Part:
    writer: pq.ParquetWriter
    rel: str
    rows: int = 0
    level: Level = Level.GENERAL
    ts: list[str] = field(default_factory=list)


class StagedWrite:
    """A put in progress: batches are checked, then written; :meth:`commit` indexes them."""

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
        self.id = new_file_id(stamp)
        self._root: LakeRoot = store.lake
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
                where = f"cannot write {self.dataset} to {self.store.where}"
                raise storage_fault(where, exc) from exc

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
            rel = f"dataset={self.dataset}/date={day}/part-{self.id}.parquet"
            schema = batch.schema.with_metadata({**(batch.schema.metadata or {}), **self._meta})
            writer = self._root.parquet_writer(rel, schema, compression="zstd")
            part = self._parts[day] = _Part(writer, rel)
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
        """Check the dataset's final level, finish the files and index them (the commit)."""
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
                size = self._root.finish(part.rel)
            except OSError as exc:
                self.abort()
                raise storage_fault(f"cannot finish {self._root.show(part.rel)}", exc) from exc
            files.append(
                LakeFile(
                    self.store.name,
                    part.rel,
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
        meta = self.home.meta
        try:
            self._index(meta, written, files)
        except BaseException:
            self.abort()  # not indexed: never seen; the files go
            raise
        return files

    def _index(self, meta: Any, written: str, files: list[LakeFile]) -> None:
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

    def abort(self) -> None:
        """Close and remove the files of this put (none of them is indexed)."""
        for part in self._parts.values():
            with contextlib.suppress(Exception):  # best effort on the way out
                part.writer.close()
            with contextlib.suppress(Exception):
                self._root.delete(part.rel)


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
        """Every whole Parquet file in every store, indexed or not: what erasure and retention
        walk, since a crash may leave an unindexed copy. A file still being written (no footer
        yet) is skipped; an unindexed one whose writer has ended on this host is removed."""
        for store in self.home.stores():
            root = store.lake
            if root.local is not None:
                remove_stale_temps(root.local)  # temporaries of the rename-based writer before
                if not root.local.is_dir():
                    continue
            indexed = {f.path: f for f in self.files(store=store.name)}
            for rel in root.parquet_files():
                if rel in indexed:
                    yield store, indexed[rel]
                    continue
                if root.is_local and _orphan_of_dead_writer(rel):
                    root.delete(rel)
                    continue
                unindexed = self._unindexed(store, rel)
                if unindexed is not None:
                    yield store, unindexed

    def _unindexed(self, store: StoreInfo, rel: str) -> LakeFile | None:
        try:
            meta = store.lake.parquet_file(rel).metadata
            size = store.lake.size(rel)
        except (OSError, pa.ArrowInvalid):  # being written, or gone meanwhile
            return None
        dataset = rel.split("/", 1)[0].removeprefix("dataset=")
        day = rel.split("/")[1].removeprefix("date=")
        return LakeFile(store.name, rel, dataset, day, meta.num_rows, size, "")

    def read_table(self, store: StoreInfo, lake_file: LakeFile, **options: Any) -> pa.Table:
        """One lake file as a table (``columns=[...]`` to read some)."""
        try:
            return store.lake.read_table(lake_file.path, **options)
        except OSError as exc:
            raise storage_fault(f"cannot read {store.lake.show(lake_file.path)}", exc) from exc

    def rewrite(
        self,
        store: StoreInfo,
        lake_file: LakeFile,
        keep: Callable[[pa.Table], pa.Array],
        *,
        action: str,
        before_replace: Callable[[Path], None] | None = None,
    ) -> Rewrite:
        """Keep the rows where ``keep(table)`` is true; says how many rows went and where the
        kept rows are now.

        The kept rows go to a new file; the index row is swapped to it in one transaction, then
        the old file is deleted (the file is deleted outright when nothing is left). What remains
        is checked for residency like any other write. ``before_replace`` is called with the
        finished new file before the swap (tests use it to crash there).
        """
        root = store.lake
        table = self.read_table(store, lake_file)
        mask = keep(table)
        kept = table.filter(mask)
        removed = int(table.num_rows - kept.num_rows)
        if removed == 0:
            return Rewrite(0, lake_file.path)
        meta = file_meta(table.schema)
        key = (store.name, lake_file.path)
        indexed = bool(lake_file.level)  # an unindexed file stays unindexed
        if kept.num_rows == 0:
            if indexed:
                self.home.meta.execute("DELETE FROM lake_files WHERE store = ? AND path = ?", key)
            self._delete(root, lake_file.path)
            return Rewrite(removed, None)
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
        folder = lake_file.path.rsplit("/", 1)[0]
        new = f"{folder}/part-{new_file_id(self.home.now())}.parquet"
        try:
            size = root.write_table(new, kept, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            if before_replace is not None:
                before_replace(Path(root.show(new)))
        except OSError as exc:
            with contextlib.suppress(Exception):
                root.delete(new)
            raise storage_fault(f"cannot write {root.show(new)}", exc) from exc
        except BaseException:
            with contextlib.suppress(Exception):
                root.delete(new)
            raise
        if indexed:
            lo, hi = _ts_range(kept, meta.get("ts_column") or None)
            moved = LakeFile(
                store.name,
                new,
                lake_file.dataset,
                lake_file.part_date,
                kept.num_rows,
                size,
                level.label,
                lake_file.categories,
                lo,
                hi,
                lake_file.written_at,
            )
            db = self.home.meta
            try:
                with db.transaction():
                    db.execute("DELETE FROM lake_files WHERE store = ? AND path = ?", key)
                    db.execute(
                        f"INSERT INTO lake_files ({_COLUMNS})"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _row(moved),
                    )
            except BaseException:
                with contextlib.suppress(Exception):
                    root.delete(new)
                raise
        self._delete(root, lake_file.path)
        return Rewrite(removed, new)

    @staticmethod
    def _delete(root: LakeRoot, rel: str) -> None:
        try:
            root.delete(rel)
        except OSError as exc:
            raise storage_fault(f"cannot remove {root.show(rel)}", exc) from exc

    def person_columns(self, schema: pa.Schema) -> list[str]:
        """The columns of a lake file that name a person: its key when the dataset is keyed on
        a person (stored with ``--subject``), and every column of the pack's
        ``person_subject_categories`` (a driver id in a dataset keyed on the VIN)."""
        pack = self.home.pack
        key = file_meta(schema).get("vin_column") or ""
        out = []
        if key in schema.names and pack.resolve_field(key).role != "vin":
            out.append(key)
        persons = set(pack.header.settings.person_subject_categories)
        out += [
            n for n in schema.names if n not in out and pack.resolve_field(n).category in persons
        ]
        return out

    def read_person(self, store: StoreInfo, lake_file: LakeFile, person: str) -> pa.Table | None:
        """The rows of a person (any of :meth:`person_columns` holds the id) in one file; None
        when the file has no person column."""
        try:
            pf = store.lake.parquet_file(lake_file.path)
        except OSError as exc:
            raise storage_fault(f"cannot read {store.lake.show(lake_file.path)}", exc) from exc
        columns = self.person_columns(pf.schema_arrow)
        if not columns:
            return None
        tables = []
        for group in range(pf.metadata.num_row_groups):  # one at a time: see read_vin
            keys = pf.read_row_group(group, columns=columns)
            if pc.any(holds_subject(keys, columns, person)).as_py():
                table = pf.read_row_group(group)
                tables.append(table.filter(holds_subject(table, columns, person)))
        if not tables:
            return pf.schema_arrow.empty_table()
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def read_vin(self, store: StoreInfo, lake_file: LakeFile, vin: str) -> pa.Table | None:
        """The rows of ``vin`` in one file (row groups pruned by their statistics)."""
        try:
            pf = store.lake.parquet_file(lake_file.path)
        except OSError as exc:
            raise storage_fault(f"cannot read {store.lake.show(lake_file.path)}", exc) from exc
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


@dataclass(frozen=True)
class Rewrite:
    """What :meth:`Lake.rewrite` did: rows removed, and the file holding the rest (``None``:
    the file was removed, nothing was left)."""

    removed: int
    path: str | None


def holds_subject(table: pa.Table, columns: Sequence[str], subject: str) -> pa.Array:
    """True for the rows where any of ``columns`` (as text) equals ``subject``."""
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for name in columns:
        found = pc.equal(pc.cast(table.column(name), pa.string()), subject)
        mask = pc.or_(mask, pc.fill_null(found, False))
    return mask


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


def storage_entry(
    home: DataHome,
    files: Sequence[LakeFile],
    *,
    dataset: str,
    purpose: str,
    categories: Sequence[str],
    counts: dict[str, int],
    details: dict[str, Any],
) -> LedgerEntry:
    """The ``storage`` ledger entry of a put (appended with its ``collection`` entry)."""
    return home.entry(
        Activity.STORAGE,
        purpose=purpose,
        dataset=dataset,
        categories=tuple(categories),
        counts={**counts, "files": len(files), "bytes": sum(f.bytes for f in files)},
        decision="stored",
        details={**details, "files": [f.path for f in files]},
    )
