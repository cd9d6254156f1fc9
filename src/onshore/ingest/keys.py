"""The idempotency index of ingested rows: which keys are stored, by which batch.

Two tables in the metadata database (component ``ingest`` of ``onshore_migrations``)::

    ingest_batches(id, worker, dataset, purpose, state, started_at, finished_at, ledger_size, files)
    ingest_keys(dataset, vin, ts, kind, batch) PRIMARY KEY (dataset, vin, ts, kind)

A batch *claims* its keys before the pipeline runs (state ``pending``): a key already claimed
in the same dataset by an earlier batch is a duplicate and its row is dropped. Keys are per
dataset: the same rows sent to another dataset are that dataset's rows, not duplicates
(migration 2 rebuilt the table of migration 1, whose keys were global, taking each key's
dataset from its batch). When the pipeline has stored the
batch, the batch becomes ``stored``; only then are its messages acknowledged. A worker that
dies in between leaves a ``pending`` batch; :meth:`KeyIndex.recover` looks in the lake for its
keys, keeps those that were stored and releases the others, so the broker's redelivery stores
each of them exactly once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from onshore.ingest.decode import Key
from onshore.store.db import MetaDB, iso
from onshore.store.home import DataHome

COMPONENT = "ingest"
CLAIM_CHUNK = 20_000
"""Keys claimed per transaction."""
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE ingest_batches (
                id TEXT PRIMARY KEY,
                worker TEXT NOT NULL,
                dataset TEXT NOT NULL,
                purpose TEXT NOT NULL,
                state TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                ledger_size BIGINT NOT NULL,
                files TEXT NOT NULL
            )""",
            "CREATE INDEX ingest_batches_state ON ingest_batches (worker, state)",
            """CREATE TABLE ingest_keys (
                vin TEXT NOT NULL,
                ts BIGINT NOT NULL,
                kind TEXT NOT NULL,
                batch TEXT NOT NULL,
                PRIMARY KEY (vin, ts, kind)
            )""",
            "CREATE INDEX ingest_keys_batch ON ingest_keys (batch)",
        ),
    ),
    (
        2,
        (
            # Keys per dataset: rebuild with the dataset of each key's batch (a key whose
            # batch is gone belongs to no batch that could be settled or pruned: dropped).
            """CREATE TABLE ingest_keys_v2 (
                dataset TEXT NOT NULL,
                vin TEXT NOT NULL,
                ts BIGINT NOT NULL,
                kind TEXT NOT NULL,
                batch TEXT NOT NULL,
                PRIMARY KEY (dataset, vin, ts, kind)
            )""",
            """INSERT INTO ingest_keys_v2 (dataset, vin, ts, kind, batch)
                SELECT b.dataset, k.vin, k.ts, k.kind, k.batch
                FROM ingest_keys k JOIN ingest_batches b ON b.id = k.batch""",
            "DROP TABLE ingest_keys",
            "ALTER TABLE ingest_keys_v2 RENAME TO ingest_keys",
            "CREATE INDEX ingest_keys_batch ON ingest_keys (batch)",
        ),
    ),
)


def migrate(meta: MetaDB) -> None:
    """Create or update the ingest tables (idempotent; PostgreSQL under an advisory lock)."""
    meta.apply_migrations(COMPONENT, MIGRATIONS)


@dataclass(frozen=True)
class Claim:
    """A batch's claim: its id and, per row, whether the row is new (not a duplicate)."""

    batch: str
    new: list[bool]

    @property
    def duplicates(self) -> int:
        return self.new.count(False)


@dataclass(frozen=True)
class Pending:
    """A batch a dead worker left between claiming its keys and recording them as stored."""

    batch: str
    dataset: str
    purpose: str
    started_at: str
    ledger_size: int


class KeyIndex:
    """Claim, confirm, release and recover the keys of ``worker``'s batches in ``home``."""

    def __init__(self, home: DataHome, worker: str) -> None:
        self.home = home
        self.meta = home.meta
        self.worker = worker
        migrate(self.meta)

    @staticmethod
    def new_batch() -> str:
        """A fresh batch id."""
        return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"

    def claim(
        self, dataset: str, purpose: str, keys: Sequence[Key], *, batch: str | None = None
    ) -> Claim:
        """Record ``keys`` as pending for a new batch of ``dataset`` (id ``batch``, or a new
        one); duplicates (earlier in the dataset, or within the batch) are False."""
        batch = batch or self.new_batch()
        size = self.home.ledger.size()
        self.meta.execute(
            "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, 'pending', ?, NULL, ?, '[]')",
            (batch, self.worker, dataset, purpose, iso(self.home.now()), size),
        )
        # In chunks, each its own transaction: a large batch never holds the database's write
        # lock for long (the service's reads write their ledger entries in between). A crash
        # between chunks leaves a pending batch with part of its keys: recovery settles it.
        rows = [(dataset, v, t, k, batch) for v, t, k in keys]
        for start in range(0, len(rows), CLAIM_CHUNK):
            with self.meta.transaction():
                self.meta.executemany(
                    "INSERT INTO ingest_keys (dataset, vin, ts, kind, batch)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows[start : start + CLAIM_CHUNK],
                )
        mine = set(self._keys(batch))
        new = []
        for key in keys:
            fresh = key in mine
            if fresh:
                mine.discard(key)
            new.append(fresh)
        return Claim(batch, new)

    def stored(self, batch: str, files: Sequence[str]) -> None:
        """The batch is durably stored (its messages may now be acknowledged)."""
        self.meta.execute(
            "UPDATE ingest_batches SET state = 'stored', finished_at = ?, files = ? WHERE id = ?",
            (iso(self.home.now()), json.dumps(list(files)), batch),
        )

    def release(self, batch: str) -> None:
        """Forget a batch that stored nothing (its keys may be claimed again)."""
        with self.meta.transaction():
            self.meta.execute("DELETE FROM ingest_keys WHERE batch = ?", (batch,))
            self.meta.execute("DELETE FROM ingest_batches WHERE id = ?", (batch,))

    def keep_only(self, batch: str, keys: set[Key], files: Sequence[str]) -> None:
        """Keep the claims of ``keys`` (found stored) and release the rest of the batch."""
        with self.meta.transaction():
            gone = [(batch, *r) for r in self._keys(batch) if r not in keys]
            self.meta.executemany(
                "DELETE FROM ingest_keys WHERE batch = ? AND vin = ? AND ts = ? AND kind = ?",
                gone,
            )
            if keys:
                self.meta.execute(
                    "UPDATE ingest_batches SET state = 'recovered', finished_at = ?, files = ?"
                    " WHERE id = ?",
                    (iso(self.home.now()), json.dumps(list(files)), batch),
                )
            else:
                self.meta.execute("DELETE FROM ingest_batches WHERE id = ?", (batch,))

    def _keys(self, batch: str) -> list[tuple[str, int, str]]:
        rows = self.meta.query("SELECT vin, ts, kind FROM ingest_keys WHERE batch = ?", (batch,))
        return [(str(v), int(t), str(k)) for v, t, k in rows]

    def keys_of(self, batch: str) -> set[Key]:
        """The keys ``batch`` holds."""
        return set(self._keys(batch))

    def pending(self) -> list[Pending]:
        """This worker's batches that were claimed but never confirmed."""
        rows = self.meta.query(
            "SELECT id, dataset, purpose, started_at, ledger_size FROM ingest_batches"
            " WHERE worker = ? AND state = 'pending' ORDER BY started_at",
            (self.worker,),
        )
        return [Pending(str(i), str(d), str(p), str(s), int(n)) for i, d, p, s, n in rows]

    def prune(self, older_than: timedelta) -> int:
        """Forget the keys of batches confirmed more than ``older_than`` ago; returns batches."""
        cutoff = iso(self.home.now() - older_than)
        with self.meta.transaction():
            old = self.meta.query(
                "SELECT id FROM ingest_batches WHERE state <> 'pending' AND finished_at < ?",
                (cutoff,),
            )
            self.meta.executemany("DELETE FROM ingest_keys WHERE batch = ?", old)
            self.meta.executemany("DELETE FROM ingest_batches WHERE id = ?", old)
        return len(old)
