"""What a ledger store must do, the schema every store shares, and opening one by URL.

A backend is an adapter: it keeps rows and serializes appends, nothing more. The Merkle maths,
signing and verification live in the pure core and in ``Ledger``; a backend never hashes.

Tables (the same on SQLite and PostgreSQL; ``{blob}`` is ``BLOB`` or ``BYTEA``)::

    onshore_migrations(component, version, applied_at)      shared with other components
    ledger_entries(idx, leaf_hash, entry, kind, dataset, time)
    ledger_heads(tree_size, sequence, root_hash, timestamp_ms, key_id, signature)
    ledger_state(id = 1, tree_size, frontier, head_count, last_timestamp_ms)
    ledger_nodes(level, idx, hash)                           perfect subtrees of 2**level leaves

``ledger_state`` caches the tree's frontier so an append needs no other row; ``ledger_nodes``
caches the roots of perfect subtrees of at least ``2**NODE_MIN_LEVEL`` leaves so a proof reads
``O(log n)`` rows instead of every leaf hash. Verification recomputes and checks both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from onshore.database import Migrations, default_db_url
from onshore.errors import BadInput
from onshore.ledger.head import SignedTreeHead
from onshore.ledger.merkle import Frontier

COMPONENT = "ledger"

# Applied by ``Database.apply_migrations``; ``{blob}`` is the dialect's byte-string type.
MIGRATIONS: Migrations = (
    (
        1,
        (
            """CREATE TABLE ledger_entries (
                idx BIGINT PRIMARY KEY,
                leaf_hash {blob} NOT NULL,
                entry {blob} NOT NULL,
                kind TEXT NOT NULL,
                dataset TEXT NOT NULL,
                time TEXT NOT NULL
            )""",
            "CREATE INDEX ledger_entries_kind ON ledger_entries (kind, idx)",
            "CREATE INDEX ledger_entries_dataset ON ledger_entries (dataset, idx)",
            """CREATE TABLE ledger_heads (
                tree_size BIGINT PRIMARY KEY,
                sequence BIGINT NOT NULL,
                root_hash {blob} NOT NULL,
                timestamp_ms BIGINT NOT NULL,
                key_id TEXT NOT NULL,
                signature {blob} NOT NULL
            )""",
            """CREATE TABLE ledger_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                tree_size BIGINT NOT NULL,
                frontier {blob} NOT NULL,
                head_count BIGINT NOT NULL,
                last_timestamp_ms BIGINT NOT NULL
            )""",
            "INSERT INTO ledger_state VALUES (1, 0, {empty_blob}, 0, 0)",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE ledger_nodes (
                level INTEGER NOT NULL,
                idx BIGINT NOT NULL,
                hash {blob} NOT NULL,
                PRIMARY KEY (level, idx)
            )""",
        ),
    ),
)

NODE_MIN_LEVEL = 6  # cache subtrees of 64 leaves and more: about one row per 32 entries

ENTRY_COLUMNS = "idx, leaf_hash, entry, kind, dataset, time"
HEAD_COLUMNS = "tree_size, sequence, root_hash, timestamp_ms, key_id, signature"


@dataclass(frozen=True)
class StoredEntry:
    """One row of ``ledger_entries``: the entry bytes plus columns kept for lookups."""

    index: int
    leaf_hash: bytes
    entry: bytes
    kind: str
    dataset: str
    time: str


@dataclass(frozen=True)
class LogState:
    """The cached state an append starts from."""

    frontier: Frontier
    head_count: int
    last_timestamp_ms: int


Node = tuple[int, int, bytes]
"""``(level, index, hash)``: the root of the ``2**level`` leaves from ``index * 2**level``."""


class AppendTransaction(Protocol):
    """Inside an exclusive append: read the state, then write entries, a head and the state."""

    def state(self) -> LogState: ...

    def latest_head(self) -> SignedTreeHead | None: ...

    def write(
        self,
        entries: Sequence[StoredEntry],
        head: SignedTreeHead,
        state: LogState,
        nodes: Sequence[Node] = (),
    ) -> None: ...


class LedgerBackend(Protocol):
    """A store of ledger rows that serializes appends across processes."""

    url: str

    def append_transaction(self) -> AbstractContextManager[AppendTransaction]:
        """An exclusive transaction: commits on normal exit, rolls back on an exception."""
        ...

    def count(self) -> int:
        """The number of entry rows."""
        ...

    def iter_entries(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        kind: str | None = None,
        dataset: str | None = None,
    ) -> Iterator[StoredEntry]:
        """Entry rows in index order, ``start <= idx < stop``, optionally filtered."""
        ...

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        """The stored leaf hashes of indices ``start .. stop-1``, in order."""
        ...

    def node(self, level: int, index: int) -> bytes | None:
        """A cached perfect-subtree root, or ``None``."""
        ...

    def nodes(self) -> list[Node]:
        """Every cached perfect-subtree root."""
        ...

    def heads(self) -> list[SignedTreeHead]:
        """Every stored signed tree head, by tree size."""
        ...

    def head_at(self, tree_size: int) -> SignedTreeHead | None: ...

    def latest_head(self) -> SignedTreeHead | None: ...

    def state(self) -> LogState: ...

    def close(self) -> None: ...


def head_from_row(row: Sequence[object]) -> SignedTreeHead:
    """A head from a ``HEAD_COLUMNS`` row."""
    tree_size, sequence, root_hash, timestamp_ms, key_id, signature = row
    return SignedTreeHead(
        tree_size=int(tree_size),  # type: ignore[call-overload]
        root_hash=bytes(root_hash),  # type: ignore[call-overload]
        timestamp_ms=int(timestamp_ms),  # type: ignore[call-overload]
        key_id=str(key_id),
        signature=bytes(signature),  # type: ignore[call-overload]
        sequence=int(sequence),  # type: ignore[call-overload]
    )


def entry_from_row(row: Sequence[object]) -> StoredEntry:
    """A stored entry from an ``ENTRY_COLUMNS`` row."""
    idx, leaf, entry, kind, dataset, time = row
    return StoredEntry(
        int(idx),  # type: ignore[call-overload]
        bytes(leaf),  # type: ignore[call-overload]
        bytes(entry),  # type: ignore[call-overload]
        str(kind),
        str(dataset),
        str(time),
    )


def state_from_row(row: Sequence[object]) -> LogState:
    tree_size, frontier, head_count, last_ts = row
    return LogState(
        Frontier.from_bytes(int(tree_size), bytes(frontier)),  # type: ignore[call-overload]
        int(head_count),  # type: ignore[call-overload]
        int(last_ts),  # type: ignore[call-overload]
    )


def open_backend(
    url: str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    create: bool = True,
) -> LedgerBackend:
    """Open a backend by URL: ``sqlite:///path/meta.db`` or ``postgresql://…``.

    As in SQLAlchemy, ``sqlite:///rel/meta.db`` is relative and ``sqlite:////abs/meta.db``
    absolute. A bare path means SQLite. ``None`` means ``meta.db`` in the data home. With
    ``create=False`` a missing SQLite file is a ``StorageError`` rather than a new empty log.

    >>> import tempfile
    >>> backend = open_backend(f"sqlite:///{tempfile.mkdtemp()}/meta.db")
    >>> backend.count()
    0
    >>> backend.close()
    """
    from onshore.ledger.postgres import PostgresBackend
    from onshore.ledger.sqlite import SQLiteBackend

    url = url or default_db_url(home)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite:///") or "://" not in url:
        return SQLiteBackend(url.removeprefix("sqlite:///"), create=create)
    raise BadInput(f"unsupported database URL {url!r} (use sqlite:///PATH or postgresql://…)")
