"""The ledger on a SQL database (SQLite or PostgreSQL): one backend, the dialect does the rest.

An append is one write transaction that starts by locking the state: SQLite's ``BEGIN
IMMEDIATE`` takes the database's write lock, PostgreSQL's ``SELECT … FOR UPDATE`` the single
``ledger_state`` row. So concurrent appends from any number of processes (and, on PostgreSQL,
hosts) queue, and each extends the previous one's tree. The state and the latest head are read
in one round trip, and every write goes in one more (a pipeline on PostgreSQL).

On SQLite, appenders on one host first queue on a sidecar file lock (``meta.db.ledger-lock``):
SQLite's busy handler polls with growing sleeps, so contended appenders would idle, whereas a
kernel lock wakes the next one at once. Other writers of the database (which skip this lock) are
still serialized by SQLite.

>>> import tempfile
>>> from onshore.database import Database
>>> backend = SqlLedgerBackend(Database(f"sqlite:///{tempfile.mkdtemp()}/meta.db"))
>>> backend.state().frontier.size, backend.count()
(0, 0)
>>> backend.close()
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onshore.database import Database
from onshore.errors import StorageError
from onshore.ledger.backend import (
    COMPONENT,
    ENTRY_COLUMNS,
    HEAD_COLUMNS,
    MIGRATIONS,
    LogState,
    Node,
    StoredEntry,
    entry_from_row,
    head_from_row,
    state_from_row,
)
from onshore.ledger.head import SignedTreeHead

_STATE = "SELECT tree_size, frontier, head_count, last_timestamp_ms FROM ledger_state WHERE id = 1"
_LATEST_HEAD = f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size DESC LIMIT 1"
_INSERT_ENTRY = f"INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_NODE = "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)"
_INSERT_HEAD = f"INSERT INTO ledger_heads ({HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_UPDATE_STATE = (
    "UPDATE ledger_state SET tree_size = ?, frontier = ?, head_count = ?, last_timestamp_ms = ?"
    " WHERE id = 1"
)


class _Append:
    """One append: a locking read of the state and the latest head, then every write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._head: SignedTreeHead | None = None
        self._read = False

    def state(self) -> LogState:
        # Two statements, not one joining the heads: under PostgreSQL's READ COMMITTED a FOR
        # UPDATE that waited re-reads only the locked row, so a joined head would come from the
        # stale snapshot. The second statement gets a fresh one.
        state, head = self._db.queries(
            [(_STATE + self._db.sql_dialect.for_update, ()), (_LATEST_HEAD, ())]
        )
        self._head = head_from_row(head[0]) if head else None
        self._read = True
        return state_from_row(state[0])

    def latest_head(self) -> SignedTreeHead | None:
        if not self._read:
            rows = self._db.query(_LATEST_HEAD)
            return head_from_row(rows[0]) if rows else None
        return self._head

    def write(
        self,
        entries: Sequence[StoredEntry],
        head: SignedTreeHead,
        state: LogState,
        nodes: Sequence[Node] = (),
    ) -> None:
        db = self._db
        with db.batch():
            db.executemany(
                _INSERT_ENTRY,
                [(e.index, e.leaf_hash, e.entry, e.kind, e.dataset, e.time) for e in entries],
            )
            db.executemany(_INSERT_NODE, nodes)
            db.execute(
                _INSERT_HEAD,
                (
                    head.tree_size,
                    head.sequence,
                    head.root_hash,
                    head.timestamp_ms,
                    head.key_id,
                    head.signature,
                ),
            )
            frontier = state.frontier
            db.execute(
                _UPDATE_STATE,
                (frontier.size, frontier.to_bytes(), state.head_count, state.last_timestamp_ms),
            )


class SqlLedgerBackend:
    """Ledger rows in a :class:`~onshore.database.Database`, migrated to the current schema.

    ``queue_lock`` is the sidecar file appenders on this host queue on (``None``: none).
    """

    def __init__(self, db: Database, *, queue_lock: Path | None = None) -> None:
        self.db = db
        self.url = db.url
        self._lock_fd: int | None = None
        try:
            db.apply_migrations(COMPONENT, MIGRATIONS)
            if queue_lock is not None:
                self._lock_fd = os.open(queue_lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            db.close()
            raise StorageError(f"cannot open the ledger lock {queue_lock}: {exc}") from exc
        except BaseException:
            db.close()
            raise

    # -- appends --------------------------------------------------------------------------------
    @contextmanager
    def append_transaction(self) -> Iterator[_Append]:
        with self._queue(), self.db.transaction():
            yield _Append(self.db)

    @contextmanager
    def _queue(self) -> Iterator[None]:
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # -- reads ----------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM ledger_entries")[0][0])

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
        for clause, value in (("idx < ?", stop), ("kind = ?", kind), ("dataset = ?", dataset)):
            if value is not None:
                where.append(clause)
                params.append(value)
        query = f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE {' AND '.join(where)}"
        # Page by index so a long read holds no cursor open across other statements.
        last = start - 1
        while True:
            rows = self.db.query(
                f"{query} AND idx > ? ORDER BY idx LIMIT ?", [*params, last, batch]
            )
            for row in rows:
                yield entry_from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        rows = self.db.query(
            "SELECT leaf_hash FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            [start, stop],
        )
        return [bytes(r[0]) for r in rows]

    def node(self, level: int, index: int) -> bytes | None:
        rows = self.db.query(
            "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", [level, index]
        )
        return bytes(rows[0][0]) if rows else None

    def nodes(self) -> list[Node]:
        rows = self.db.query("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def heads(self) -> list[SignedTreeHead]:
        rows = self.db.query(f"SELECT {HEAD_COLUMNS} FROM ledger_heads ORDER BY tree_size")
        return [head_from_row(r) for r in rows]

    def head_at(self, tree_size: int) -> SignedTreeHead | None:
        rows = self.db.query(
            f"SELECT {HEAD_COLUMNS} FROM ledger_heads WHERE tree_size = ?", [tree_size]
        )
        return head_from_row(rows[0]) if rows else None

    def latest_head(self) -> SignedTreeHead | None:
        rows = self.db.query(_LATEST_HEAD)
        return head_from_row(rows[0]) if rows else None

    def state(self) -> LogState:
        rows = self.db.query(_STATE)
        try:
            return state_from_row(rows[0])
        except (IndexError, ValueError) as exc:
            raise StorageError(f"the ledger state in {self.db.where} is unreadable: {exc}") from exc

    # -- outside the ledger's API ---------------------------------------------------------------
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement outside the ledger's API (tests use it to tamper)."""
        self.db.execute(statement, params)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query(statement, params)  # tests read under the API with it

    def drop_schema(self) -> None:
        """Drop the PostgreSQL schema and everything in it (tests clean up with it)."""
        self.db.drop_schema()

    def close(self) -> None:
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
