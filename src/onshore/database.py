"""SQL databases by URL: SQLite or PostgreSQL behind one small dialect and one migration runner.

``sqlite:///rel/meta.db`` (relative), ``sqlite:////abs/meta.db`` (absolute), a bare path, or
``postgresql://…[?schema=NAME]`` (tables in that schema, created if absent). The metadata
database (:class:`~onshore.store.db.MetaDB`) and the ledger's SQL backend
(:class:`~onshore.ledger.sql.SqlLedgerBackend`) both stand on :class:`Database`.

SQL is written once, with ``?`` placeholders and ``{blob}`` / ``{empty_blob}`` for the byte-string
type; the :class:`Dialect` turns it into SQLite's or PostgreSQL's. What else differs lives here:
SQLite takes its write lock with ``BEGIN IMMEDIATE``, PostgreSQL locks the rows a read names with
``FOR UPDATE`` and sends batches of statements in one round trip (a pipeline).

Every component keeps numbered migrations in the shared table::

    onshore_migrations(component, version, applied_at)

and applies them with :meth:`Database.apply_migrations`: idempotent, in one transaction, under
SQLite's write lock or a PostgreSQL advisory lock per schema. Every driver error is translated
here, once: :class:`~onshore.errors.StorageUnavailable` when the database is there but cannot be
used now (disk full, I/O error, locked, read-only, connection gone), else ``StorageError``.

>>> import tempfile
>>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/meta.db")
>>> db.apply_migrations("demo", [(1, ["CREATE TABLE demo (id INTEGER, data {blob})"])])
>>> db.execute("INSERT INTO demo VALUES (?, ?)", (1, b"\\x00"))
1
>>> db.query("SELECT id, data FROM demo")
[(1, b'\\x00')]
>>> db.close()
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from onshore.errors import BadInput, StorageError, StorageUnavailable
from onshore.jsonenc import format_time
from onshore.keystore import onshore_home
from onshore.private import create_private_file, make_private, sqlite_files

MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS onshore_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""

Migrations = Sequence[tuple[int, Sequence[str]]]
"""``(version, statements)`` in order; statements may name ``{blob}`` and ``{empty_blob}``."""


@dataclass(frozen=True)
class Dialect:
    """What the SQL of one database engine spells differently."""

    name: str
    placeholder: str
    blob: str
    empty_blob: str
    for_update: str  # appended to a read that must lock its rows inside a write transaction
    greatest: str  # the larger of two values: GREATEST(a, b) or SQLite's MAX(a, b)

    def sql(self, statement: str) -> str:
        """``statement`` (``?`` placeholders, ``{blob}`` types) in this dialect.

        >>> POSTGRESQL.sql("INSERT INTO t VALUES (?, {empty_blob})")
        "INSERT INTO t VALUES (%s, ''::bytea)"
        """
        if "{" in statement:
            statement = statement.replace("{blob}", self.blob)
            statement = statement.replace("{empty_blob}", self.empty_blob)
        if self.placeholder != "?":
            statement = statement.replace("?", self.placeholder)
        return statement


# SQLite's BEGIN IMMEDIATE already holds the database's write lock: no row locks to take.
SQLITE = Dialect("sqlite", "?", "BLOB", "x''", "", "MAX")
POSTGRESQL = Dialect("postgresql", "%s", "BYTEA", "''::bytea", " FOR UPDATE", "GREATEST")


def default_db_url(home: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<home>/meta.db``, home defaulting to ``$ONSHORE_HOME`` or ``./onshore-data``."""
    base = Path(home) if home is not None else onshore_home()
    return f"sqlite:///{base / 'meta.db'}"


def split_schema(url: str) -> tuple[str, str | None]:
    """Take ``schema=`` out of a URL's query (psycopg does not know it).

    >>> split_schema("postgresql://u@h/db?schema=audit&sslmode=disable")
    ('postgresql://u@h/db?sslmode=disable', 'audit')
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def migration_lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for one schema's migrations."""
    digest = hashlib.sha256(f"onshore-migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_NOTHING = nullcontext()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Database:
    """One connection, in autocommit mode outside :meth:`transaction`.

    ``create=False`` makes a missing SQLite file a ``StorageError`` instead of a new database;
    ``label`` names the database in messages.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        create: bool = True,
        busy_timeout_s: float = 60.0,
        synchronous: str = "FULL",
        schema: str | None = None,
        label: str = "database",
    ) -> None:
        self.url = url or default_db_url(home)
        self.label = label
        self._depth = 0
        self.schema = "main"
        if self.url.startswith(("postgresql://", "postgres://")):
            self.sql_dialect = POSTGRESQL
            self._open_postgres(schema)
        elif self.url.startswith("sqlite:///") or "://" not in self.url:
            self.sql_dialect = SQLITE
            self._open_sqlite(
                self.url.removeprefix("sqlite:///"), create, busy_timeout_s, synchronous
            )
        else:
            raise BadInput(
                f"unsupported database URL {self.url!r} (use sqlite:///PATH or postgresql://…)"
            )
        self.dialect = self.sql_dialect.name  # "sqlite" or "postgresql"

    # -- connections ----------------------------------------------------------------------------
    def _open_sqlite(self, path: str, create: bool, busy_timeout_s: float, sync: str) -> None:
        self.where = path
        self.path: Path | None = None if path == ":memory:" else Path(path)
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        self._faults: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        if self.path is not None and not create and not self.path.exists():
            raise StorageError(f"no {self.label} at {path}")
        try:
            if self.path is not None:
                # Owner-only: SQLite gives the -wal and -shm files the database file's mode.
                create_private_file(self.path)
            self._conn: Any = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Deleted content is overwritten with zeros, so free pages hold nothing (erasure).
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute(f"PRAGMA synchronous = {sync}")
            if self.path is not None:
                for file in sqlite_files(self.path):
                    make_private(file)
        except (sqlite3.Error, OSError) as exc:
            raise StorageUnavailable(f"cannot open the {self.label} {path}: {exc}") from exc

    def _open_postgres(self, schema: str | None) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise StorageError("PostgreSQL needs psycopg: pip install 'onshore[postgres]'") from exc
        conninfo, url_schema = split_schema(self.url)
        self.schema = schema or url_schema or "public"
        self.path = None
        parts = urlsplit(conninfo)
        netloc = parts.netloc.rpartition("@")[2]
        self.where = urlunsplit(parts._replace(netloc=netloc, query=""))  # no user or password
        self._errors = (psycopg.Error,)
        self._faults = (psycopg.OperationalError, psycopg.InterfaceError)
        try:
            self._conn = psycopg.connect(conninfo, autocommit=True)
            if self.schema != "public":
                # Processes opening a new schema at once (workers starting together) race
                # inside IF NOT EXISTS; the loser's unique violation means it exists now.
                with contextlib.suppress(psycopg.errors.UniqueViolation):
                    self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_identifier(self.schema)}")
            self._conn.execute(f"SET search_path TO {_identifier(self.schema)}")
        except psycopg.Error as exc:
            raise StorageUnavailable(f"cannot open the {self.label} {self.where}: {exc}") from exc

    def _fault(self, exc: BaseException) -> StorageError:
        kind = StorageUnavailable if isinstance(exc, self._faults) else StorageError
        return kind(f"{self.where}: {exc}")

    def _live(self) -> Any:
        """The connection; a PostgreSQL connection that was lost (the server restarted, the
        network broke) is opened again first, outside a transaction, so work resumes by itself
        once the database is back. While it is still down this raises ``StorageUnavailable``."""
        conn = self._conn
        if self.sql_dialect is POSTGRESQL and self._depth == 0 and (conn.closed or conn.broken):
            with contextlib.suppress(*self._errors):
                conn.close()
            self._open_postgres(self.schema)
        return self._conn

    # -- statements -----------------------------------------------------------------------------
    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        try:
            cur = self._live().execute(self.sql_dialect.sql(statement), tuple(params))
            return int(cur.rowcount or 0)
        except self._errors as exc:
            raise self._fault(exc) from exc

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            if self.sql_dialect is SQLITE:
                self._conn.executemany(self.sql_dialect.sql(statement), rows)
            else:
                with self._live().cursor() as cur:
                    cur.executemany(self.sql_dialect.sql(statement), rows)
        except self._errors as exc:
            raise self._fault(exc) from exc

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return [tuple(r) for r in self._live().execute(self.sql_dialect.sql(statement), params)]
        except self._errors as exc:
            raise self._fault(exc) from exc

    def queries(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """The rows of several queries, sent in one round trip where the dialect can."""
        with self.batch():
            cursors = [self._run(s, p) for s, p in statements]
        try:
            return [[tuple(r) for r in cur.fetchall()] for cur in cursors]
        except self._errors as exc:
            raise self._fault(exc) from exc

    def _run(self, statement: str, params: Sequence[Any]) -> Any:
        try:
            return self._live().execute(self.sql_dialect.sql(statement), params)
        except self._errors as exc:
            raise self._fault(exc) from exc

    def batch(self) -> AbstractContextManager[None]:
        """Statements run inside are sent together (a PostgreSQL pipeline); results come at the
        end of the block, and so do the errors."""
        return _NOTHING if self.sql_dialect is SQLITE else self._pipeline()

    @contextmanager
    def _pipeline(self) -> Iterator[None]:
        try:
            with self._live().pipeline():
                yield
        except self._errors as exc:
            raise self._fault(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """One write transaction: commits on normal exit, rolls back on an exception.

        SQLite takes the write lock at once (``BEGIN IMMEDIATE``), so a transaction that reads
        and then writes sees no other writer in between. Nested calls join the outer one.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._live()  # a lost PostgreSQL connection is opened again before, never inside
        self._depth = 1
        try:
            if self.sql_dialect is SQLITE:
                self.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                    self.execute("COMMIT")
                except BaseException:
                    # The transaction may be gone already: SQLite rolls back on some errors.
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise
            else:
                try:
                    with self._conn.transaction():
                        yield self
                except self._errors as exc:
                    raise self._fault(exc) from exc
        finally:
            self._depth = 0

    @contextmanager
    def snapshot(self) -> Iterator[Self]:
        """Reads that see one state of the database, whatever other connections commit
        meanwhile (SQLite: a deferred read transaction in WAL mode; PostgreSQL: repeatable
        read). Inside a transaction, that transaction's own view."""
        if self._depth:
            yield self
            return
        self._live()
        self._depth = 1
        try:
            if self.sql_dialect is SQLITE:
                self.execute("BEGIN")
                try:
                    yield self
                finally:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("COMMIT")
            else:
                try:
                    with self._conn.transaction():
                        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        yield self
                except self._errors as exc:
                    raise self._fault(exc) from exc
        finally:
            self._depth = 0

    # -- schema ---------------------------------------------------------------------------------
    def apply_migrations(self, component: str, migrations: Migrations) -> None:
        """Apply ``component``'s numbered migrations not yet on record, in one transaction.

        Idempotent and safe when several processes open the same database first: on PostgreSQL
        under a transaction-scoped advisory lock per schema, on SQLite under the write lock.
        Every module with tables of its own (the ledger, the store, ingest keys, API keys,
        incidents, transfers) registers them through this one call.
        """
        with self.transaction():
            if self.sql_dialect is POSTGRESQL:
                self.execute("SELECT pg_advisory_xact_lock(?)", (migration_lock_key(self.schema),))
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
                    (component, version, format_time(datetime.now(UTC))),
                )

    def drop_schema(self) -> None:
        """Drop this database's PostgreSQL schema and everything in it (tests clean up with it)."""
        if self.sql_dialect is not POSTGRESQL or self.schema == "public":
            raise StorageError("only a non-public PostgreSQL schema can be dropped")
        self.execute(f"DROP SCHEMA IF EXISTS {_identifier(self.schema)} CASCADE")

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._conn.close()
