"""The metadata database: SQLite by default, PostgreSQL when configured; one schema for both.

Same approach as the ledger backends (``onshore.ledger.backend``): the shared
``onshore_migrations(component, version, applied_at)`` table, numbered migrations per component
(here ``store``), applied in one transaction (PostgreSQL: under an advisory lock), and every
driver error translated once, here, into :class:`~onshore.errors.StorageError`. The ledger's
tables and these live side by side in ``HOME/meta.db`` (or the same PostgreSQL schema).

Tables (times are UTC text ``YYYY-MM-DDTHH:MM:SS.mmmZ``, so they sort as text)::

    stores(name, jurisdiction, location, path, created_at)
    datasets(name, origin, vin_column, ts_column, created_at)
    lake_files(store, path, dataset, part_date, rows, bytes, level, categories, min_ts, max_ts,
               written_at)
    consents(id, vin, person, category, purpose, basis, separate, channel, granted_at,
             expires_at NOT NULL, withdrawn_at, necessity, actor)
    subject_requests(id, kind, subject, received_at, due_date, due_confidence, completed_at,
                     status, evidence)

SQL is written with ``?`` placeholders; PostgreSQL gets ``%s``.

>>> import tempfile
>>> db = MetaDB(f"sqlite:///{tempfile.mkdtemp()}/meta.db")
>>> db.query("SELECT COUNT(*) FROM stores")
[(0,)]
>>> db.close()
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from onshore.errors import BadInput, StorageError, StorageUnavailable
from onshore.ledger.backend import MIGRATIONS_TABLE, default_db_url
from onshore.private import create_private_file, make_private, sqlite_files

COMPONENT = "store"

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE stores (
                name TEXT PRIMARY KEY,
                jurisdiction TEXT NOT NULL,
                location TEXT NOT NULL,
                path TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE datasets (
                name TEXT PRIMARY KEY,
                origin TEXT NOT NULL,
                vin_column TEXT,
                ts_column TEXT,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE lake_files (
                store TEXT NOT NULL,
                path TEXT NOT NULL,
                dataset TEXT NOT NULL,
                part_date TEXT NOT NULL,
                rows BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                level TEXT NOT NULL,
                categories TEXT NOT NULL,
                min_ts TEXT,
                max_ts TEXT,
                written_at TEXT NOT NULL,
                PRIMARY KEY (store, path)
            )""",
            "CREATE INDEX lake_files_dataset ON lake_files (dataset, part_date)",
            """CREATE TABLE consents (
                id TEXT PRIMARY KEY,
                vin TEXT NOT NULL,
                person TEXT NOT NULL,
                category TEXT NOT NULL,
                purpose TEXT NOT NULL,
                basis TEXT NOT NULL,
                separate INTEGER NOT NULL,
                channel TEXT NOT NULL,
                granted_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                withdrawn_at TEXT,
                necessity TEXT,
                actor TEXT NOT NULL
            )""",
            "CREATE INDEX consents_vin ON consents (vin)",
            "CREATE INDEX consents_purpose ON consents (purpose, category)",
            """CREATE TABLE subject_requests (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                received_at TEXT NOT NULL,
                due_date TEXT,
                due_confidence TEXT,
                completed_at TEXT,
                status TEXT NOT NULL,
                evidence TEXT NOT NULL
            )""",
            "CREATE INDEX subject_requests_subject ON subject_requests (subject)",
        ),
    ),
)


def iso(moment: datetime) -> str:
    """UTC text with milliseconds, as the ledger writes times; a naive time is refused."""
    if moment.tzinfo is None:
        raise BadInput("times must be timezone-aware", field="time")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class MetaDB:
    """A connection to the metadata database, migrated to the current schema on open."""

    def __init__(self, url: str | None = None, *, home: str | os.PathLike[str] | None = None):
        self.url = url or default_db_url(home)
        self._depth = 0
        if self.url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            self._open_postgres()
        elif self.url.startswith("sqlite:///") or "://" not in self.url:
            self.dialect = "sqlite"
            self._open_sqlite(self.url.removeprefix("sqlite:///"))
        else:
            raise BadInput(
                f"unsupported database URL {self.url!r} (sqlite:///PATH or postgresql://…)"
            )
        self._migrate()

    # -- connections ----------------------------------------------------------------------------
    def _open_sqlite(self, path: str) -> None:
        self.where = path
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        self._faults: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        try:
            if path != ":memory:":
                # Owner-only: SQLite gives the -wal and -shm files the database file's mode.
                create_private_file(Path(path))
            self._conn: Any = sqlite3.connect(
                path, timeout=60, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 60000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            if path != ":memory:":
                for file in sqlite_files(Path(path)):
                    make_private(file)
        except (sqlite3.Error, OSError) as exc:
            raise StorageUnavailable(f"cannot open the metadata database {path}: {exc}") from exc

    def _open_postgres(self) -> None:
        try:
            import psycopg
            from psycopg import sql
        except ImportError as exc:
            raise StorageError("PostgreSQL needs psycopg: pip install 'onshore[postgres]'") from exc
        from onshore.ledger.postgres import split_schema

        conninfo, schema = split_schema(self.url)
        self.schema = schema or "public"
        parts = conninfo.split("@")[-1]
        self.where = f"postgresql://{parts}"
        self._errors = (psycopg.Error,)
        self._faults = (psycopg.OperationalError, psycopg.InterfaceError)
        try:
            self._conn = psycopg.connect(conninfo, autocommit=True)
            if self.schema != "public":
                self._conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"cannot open the metadata database {self.where}: {exc}"
            ) from exc

    def _fault(self, exc: BaseException) -> StorageError:
        """A driver error as ``StorageError``: ``StorageUnavailable`` when the database is
        there but cannot be used now (disk full or I/O error, locked, read-only, connection
        gone), which a writer may retry."""
        kind = StorageUnavailable if isinstance(exc, self._faults) else StorageError
        return kind(f"{self.where}: {exc}")

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    # -- statements -----------------------------------------------------------------------------
    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        try:
            cur = self._conn.execute(self._sql(statement), tuple(params))
            return int(cur.rowcount or 0)
        except self._errors as exc:
            raise self._fault(exc) from exc

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            if self.dialect == "sqlite":
                self._conn.executemany(statement, [tuple(r) for r in rows])
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(statement), [tuple(r) for r in rows])
        except self._errors as exc:
            raise self._fault(exc) from exc

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return [tuple(r) for r in self._conn.execute(self._sql(statement), tuple(params))]
        except self._errors as exc:
            raise self._fault(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[MetaDB]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            if self.dialect == "postgresql":
                try:
                    with self._conn.transaction():
                        yield self
                except self._errors as exc:
                    raise self._fault(exc) from exc
            else:
                self.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise
                self.execute("COMMIT")
        finally:
            self._depth = 0

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self) -> None:
        self.apply_migrations(COMPONENT, MIGRATIONS)

    def apply_migrations(
        self, component: str, migrations: Sequence[tuple[int, Sequence[str]]]
    ) -> None:
        """Apply ``component``'s numbered migrations not yet on record, in one transaction.

        Idempotent and safe when several processes open the same database first: on PostgreSQL
        under a transaction-scoped advisory lock per schema, on SQLite under the write lock.
        Every module with tables of its own (ingest keys, API keys, incidents, transfers)
        registers them through this one call.
        """
        with self.transaction():
            if self.dialect == "postgresql":
                digest = hashlib.sha256(f"onshore-migrations:{self.schema}".encode()).digest()
                key = int.from_bytes(digest[:8], "big", signed=True)
                self.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            self.execute(MIGRATIONS_TABLE)
            done = {
                int(r[0])
                for r in self.query(
                    "SELECT version FROM onshore_migrations WHERE component = ?", (component,)
                )
            }
            for version, statements in migrations:
                if version in done:
                    continue
                for statement in statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO onshore_migrations VALUES (?, ?, ?)",
                    (component, version, iso(datetime.now(UTC))),
                )

    def drop_schema(self) -> None:
        """Drop this database's PostgreSQL schema (tests clean up with it)."""
        if self.dialect != "postgresql" or self.schema == "public":
            raise StorageError("only a non-public PostgreSQL schema can be dropped")
        self.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._conn.close()
