"""The embedded ledger store: one SQLite file in WAL mode, appends under ``BEGIN IMMEDIATE``.

``BEGIN IMMEDIATE`` takes SQLite's write lock before the state is read, so concurrent appends
from many processes queue (up to ``busy_timeout_s``) and each sees the previous one's frontier.
Every ``sqlite3`` error is translated here, once, into ``StorageError``.

>>> import tempfile
>>> backend = SQLiteBackend(f"{tempfile.mkdtemp()}/meta.db")
>>> backend.state().frontier.size
0
>>> backend.close()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from onshore.private import create_private_file


class _SQLiteAppend:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def state(self) -> LogState:
        row = self._conn.execute(
            "SELECT tree_size, frontier, head_count, last_timestamp_ms FROM ledger_state"
        ).fetchone()
        return state_from_row(row)

    def latest_head(self) -> SignedTreeHead | None:
        row = self._conn.execute(
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size DESC LIMIT 1"
        ).fetchone()
        return head_from_row(row) if row else None

    def write(
        self,
        entries: Sequence[StoredEntry],
        head: SignedTreeHead,
        state: LogState,
        nodes: Sequence[Node] = (),
    ) -> None:
        self._conn.executemany(
            f"INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.index, e.leaf_hash, e.entry, e.kind, e.dataset, e.time) for e in entries],
        )
        if nodes:
            self._conn.executemany(
                "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", list(nodes)
            )
        self._conn.execute(
            f"INSERT INTO ledger_heads ({HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                head.tree_size,
                head.sequence,
                head.root_hash,
                head.timestamp_ms,
                head.key_id,
                head.signature,
            ),
        )
        self._conn.execute(
            "UPDATE ledger_state SET tree_size = ?, frontier = ?, head_count = ?,"
            " last_timestamp_ms = ? WHERE id = 1",
            (
                state.frontier.size,
                state.frontier.to_bytes(),
                state.head_count,
                state.last_timestamp_ms,
            ),
        )


class SQLiteBackend:
    """Ledger rows in a SQLite file (created with its directory on first use)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 60.0,
        synchronous: str = "FULL",
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if not create and str(path) != ":memory:" and not self.path.exists():
            raise StorageError(f"no ledger database at {self.path}")
        try:
            if str(path) != ":memory:":
                create_private_file(self.path)  # owner-only; -wal and -shm take its mode
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._migrate()
            self._lock_fd: int | None = None
            if str(path) != ":memory:":
                lock = self.path.with_name(self.path.name + ".ledger-lock")
                self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open ledger database {self.path}: {exc}") from exc

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute(MIGRATIONS_TABLE)
            done = {
                row[0]
                for row in self._conn.execute(
                    "SELECT version FROM onshore_migrations WHERE component = ?", (COMPONENT,)
                )
            }
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    self._conn.execute(statement.format(blob="BLOB", empty_blob="x''"))
                self._conn.execute(
                    "INSERT INTO onshore_migrations VALUES (?, ?, ?)",
                    (COMPONENT, version, datetime.now(UTC).isoformat()),
                )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # -- appends --------------------------------------------------------------------------

    @contextmanager
    def append_transaction(self) -> Iterator[_SQLiteAppend]:
        with self._queue():
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot lock the ledger in {self.path}: {exc}") from exc
            try:
                yield _SQLiteAppend(self._conn)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StorageError(f"ledger append failed in {self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def _queue(self) -> Iterator[None]:
        """Queue ledger appenders on a sidecar file lock.

        ``BEGIN IMMEDIATE`` alone is correct, but SQLite's busy handler polls with growing
        sleeps, so contended appenders idle; a kernel lock wakes the next one at once. Other
        writers of the database (which skip this lock) are still serialized by SQLite.
        """
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _rollback(self) -> None:
        # The transaction may be gone already: SQLite rolls back by itself on some errors.
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")

    # -- reads ----------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the ledger in {self.path}: {exc}") from exc

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
        where = ["idx >= ?"]
        params: list[Any] = [start]
        if stop is not None:
            where.append("idx < ?")
            params.append(stop)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if dataset is not None:
            where.append("dataset = ?")
            params.append(dataset)
        sql = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE {' AND '.join(where)}"
        # Page by index so a long read holds no cursor open across other statements.
        last = start - 1
        while True:
            rows = self._query(f"{sql} AND idx > ? ORDER BY idx LIMIT ?", [*params, last, batch])
            for row in rows:
                yield entry_from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        rows = self._query(
            "SELECT leaf_hash FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            [start, stop],
        )
        return [bytes(r[0]) for r in rows]

    def node(self, level: int, index: int) -> bytes | None:
        rows = self._query(
            "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", [level, index]
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
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads WHERE tree_size = ?", [tree_size]
        )
        return head_from_row(rows[0]) if rows else None

    def latest_head(self) -> SignedTreeHead | None:
        rows = self._query(
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size DESC LIMIT 1"
        )
        return head_from_row(rows[0]) if rows else None

    def state(self) -> LogState:
        rows = self._query(
            "SELECT tree_size, frontier, head_count, last_timestamp_ms FROM ledger_state"
        )
        try:
            return state_from_row(rows[0])
        except (IndexError, ValueError) as exc:
            raise StorageError(f"the ledger state in {self.path} is unreadable: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement outside the ledger's API (tests use it to tamper)."""
        try:
            self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
