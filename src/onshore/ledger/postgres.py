"""The ledger on PostgreSQL (psycopg 3): the same tables, appends under ``SELECT … FOR UPDATE``.

An append locks the single ``ledger_state`` row first, so concurrent appends from any number of
processes and hosts queue and each extends the previous one's tree. Migrations run under a
transaction-level advisory lock. ``?schema=NAME`` in the URL puts the tables in that schema
(created if absent). Every ``psycopg`` error is translated here, once, into ``StorageError``.

Install with ``pip install 'onshore[postgres]'``.

    backend = PostgresBackend("postgresql://postgres@127.0.0.1:5432/onshore?schema=ledger")
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from onshore.errors import StorageError
from onshore.ledger.backend import (
    COMPONENT,
    ENTRY_COLUMNS,
    HEAD_COLUMNS,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    LogState,
    Node,
    StoredEntry,
    entry_from_row,
    head_from_row,
    state_from_row,
)
from onshore.ledger.head import SignedTreeHead

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

_STATE = "SELECT tree_size, frontier, head_count, last_timestamp_ms FROM ledger_state WHERE id = 1"


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


def _lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for this schema's migrations."""
    digest = hashlib.sha256(f"onshore-migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _PostgresAppend:
    """One append: a locking read, then every write in a single pipelined round trip."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._head: SignedTreeHead | None = None

    def state(self) -> LogState:
        # Two statements in one round trip. Not one query joining the heads: under READ
        # COMMITTED a FOR UPDATE that waited re-reads only the locked row, so a joined head
        # would come from the stale snapshot. The second statement gets a fresh one.
        with self._conn.pipeline():
            locked = self._conn.execute(_STATE + " FOR UPDATE")
            latest = self._conn.execute(
                f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size DESC LIMIT 1"
            )
        row, head = locked.fetchone(), latest.fetchone()
        self._head = head_from_row(head) if head else None
        return state_from_row(row)

    def latest_head(self) -> SignedTreeHead | None:
        return self._head

    def write(
        self,
        entries: Sequence[StoredEntry],
        head: SignedTreeHead,
        state: LogState,
        nodes: Sequence[Node] = (),
    ) -> None:
        with self._conn.pipeline(), self._conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                [(e.index, e.leaf_hash, e.entry, e.kind, e.dataset, e.time) for e in entries],
            )
            if nodes:
                cur.executemany(
                    "INSERT INTO ledger_nodes (level, idx, hash) VALUES (%s, %s, %s)", list(nodes)
                )
            cur.execute(
                f"INSERT INTO ledger_heads ({HEAD_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    head.tree_size,
                    head.sequence,
                    head.root_hash,
                    head.timestamp_ms,
                    head.key_id,
                    head.signature,
                ),
            )
            cur.execute(
                "UPDATE ledger_state SET tree_size = %s, frontier = %s, head_count = %s,"
                " last_timestamp_ms = %s WHERE id = 1",
                (
                    state.frontier.size,
                    state.frontier.to_bytes(),
                    state.head_count,
                    state.last_timestamp_ms,
                ),
            )


class PostgresBackend:
    """Ledger rows in PostgreSQL, optionally in their own schema."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        if psycopg is None:
            raise StorageError("PostgreSQL needs psycopg: pip install 'onshore[postgres]'")
        conninfo, url_schema = split_schema(url)
        self.schema = schema or url_schema or "public"
        self.url = url
        safe = urlsplit(conninfo)._replace(netloc=urlsplit(conninfo).hostname or "")
        self._where = urlunsplit(safe)  # for messages: no user or password
        try:
            self._conn = psycopg.connect(conninfo, autocommit=True)
            if self.schema != "public":
                self._conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            self._migrate()
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the ledger at {self._where}: {exc}") from exc

    def _migrate(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema),))
            self._conn.execute(MIGRATIONS_TABLE)
            done = {
                row[0]
                for row in self._conn.execute(
                    "SELECT version FROM onshore_migrations WHERE component = %s", (COMPONENT,)
                )
            }
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    self._conn.execute(statement.format(blob="BYTEA", empty_blob="''::bytea"))
                self._conn.execute(
                    "INSERT INTO onshore_migrations VALUES (%s, %s, %s)",
                    (COMPONENT, version, datetime.now(UTC).isoformat()),
                )

    @contextmanager
    def append_transaction(self) -> Iterator[_PostgresAppend]:
        try:
            with self._conn.transaction():
                yield _PostgresAppend(self._conn)
        except psycopg.Error as exc:
            raise StorageError(f"ledger append failed at {self._where}: {exc}") from exc

    def _query(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return list(self._conn.execute(query, params).fetchall())
        except psycopg.Error as exc:
            raise StorageError(f"cannot read the ledger at {self._where}: {exc}") from exc

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM ledger_entries")[0][0])

    def iter_entries(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        kind: str | None = None,
        dataset: str | None = None,
        batch: int = 5000,
    ) -> Iterator[StoredEntry]:
        where = ["idx >= %s"]
        params: list[Any] = [start]
        if stop is not None:
            where.append("idx < %s")
            params.append(stop)
        if kind is not None:
            where.append("kind = %s")
            params.append(kind)
        if dataset is not None:
            where.append("dataset = %s")
            params.append(dataset)
        query = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE {' AND '.join(where)}"
        last = start - 1
        while True:
            rows = self._query(
                f"{query} AND idx > %s ORDER BY idx LIMIT %s", [*params, last, batch]
            )
            for row in rows:
                yield entry_from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        rows = self._query(
            "SELECT leaf_hash FROM ledger_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
            [start, stop],
        )
        return [bytes(r[0]) for r in rows]

    def node(self, level: int, index: int) -> bytes | None:
        rows = self._query(
            "SELECT hash FROM ledger_nodes WHERE level = %s AND idx = %s", [level, index]
        )
        return bytes(rows[0][0]) if rows else None

    def nodes(self) -> list[Node]:
        rows = self._query("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def heads(self) -> list[SignedTreeHead]:
        rows = self._query(f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size")
        return [head_from_row(r) for r in rows]

    def head_at(self, tree_size: int) -> SignedTreeHead | None:
        rows = self._query(
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads WHERE tree_size = %s", [tree_size]
        )
        return head_from_row(rows[0]) if rows else None

    def latest_head(self) -> SignedTreeHead | None:
        rows = self._query(
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size DESC LIMIT 1"
        )
        return head_from_row(rows[0]) if rows else None

    def state(self) -> LogState:
        rows = self._query(_STATE)
        try:
            return state_from_row(rows[0])
        except (IndexError, ValueError) as exc:
            raise StorageError(f"the ledger state at {self._where} is unreadable: {exc}") from exc

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        """Run one statement outside the ledger's API (tests use it to tamper)."""
        try:
            self._conn.execute(query, params)
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {exc}") from exc

    def drop_schema(self) -> None:
        """Drop this backend's schema and everything in it (tests clean up with it)."""
        if self.schema == "public":
            raise StorageError("refusing to drop the public schema")
        self.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self._conn.close()
