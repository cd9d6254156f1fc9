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

Several workers share one index (one metadata database: PostgreSQL, or one SQLite file on one
machine), so a redelivery that reaches another worker is still known. A key held by another
worker's batch that is still ``pending`` is neither new nor a duplicate yet: if that worker
is alive (its row in ``ingest_workers`` was beaten within ``takeover_after`` seconds), the
claim is withdrawn and :class:`~onshore.errors.KeyContested` raised, so nothing is stored or
acknowledged and the caller tries again shortly; if it is dead, its batch is taken over
(``UPDATE … WHERE worker = dead AND state = 'pending'``: one winner) and settled against the
lake by :func:`~onshore.ingest.recovery.recover` first. A key whose holder vanished between
two statements (a released batch) is claimed again; each key's holder and state are read in
one statement, so no key is taken for a duplicate while it is not stored.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from onshore.errors import BadInput, KeyContested, StorageError
from onshore.ingest.decode import Key
from onshore.store.db import MetaDB, iso, parse_iso
from onshore.store.home import DataHome

if TYPE_CHECKING:
    from onshore.ingest.recovery import Recovered

COMPONENT = "ingest"
log = logging.getLogger("onshore.ingest")
CLAIM_CHUNK = 20_000
"""Keys claimed per transaction."""
HOLDER_CHUNK = 300
"""Keys whose holders one statement reads (3 parameters each, under SQLite's 999)."""
TAKEOVER_AFTER = 30.0
"""Seconds without a heartbeat after which a worker is presumed dead and its pending batches
may be settled by another worker."""
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
    (
        3,
        (
            # Workers sharing the index: who runs where, last seen (epoch seconds).
            """CREATE TABLE ingest_workers (
                worker TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid BIGINT NOT NULL,
                seen_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX ingest_batches_pending ON ingest_batches (state, dataset)",
        ),
    ),
    (
        4,
        # When the worker's process started (a pid is reused: the pair names one process).
        ("ALTER TABLE ingest_workers ADD COLUMN process TEXT",),
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


@dataclass(frozen=True)
class Holder:
    """The batch holding a key: its id, state and worker."""

    batch: str
    state: str
    worker: str


class KeyIndex:
    """Claim, confirm, release and recover the keys of ``worker``'s batches in ``home``.

    ``takeover_after``: seconds without a heartbeat (:meth:`beat`, :class:`Heartbeat`) after
    which another worker is presumed dead; see the module doc."""

    def __init__(
        self, home: DataHome, worker: str, *, takeover_after: float = TAKEOVER_AFTER
    ) -> None:
        self.home = home
        self.meta = home.meta
        self.worker = worker
        self.takeover_after = takeover_after
        self.taken_over: list[str] = []
        migrate(self.meta)

    @staticmethod
    def new_batch() -> str:
        """A fresh batch id."""
        return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"

    def claim(
        self, dataset: str, purpose: str, keys: Sequence[Key], *, batch: str | None = None
    ) -> Claim:
        """Record ``keys`` as pending for a new batch of ``dataset`` (id ``batch``, or a new
        one); duplicates (stored earlier in the dataset, or within the batch) are False.

        Raises :class:`~onshore.errors.KeyContested` (the claim withdrawn) when another live
        worker's pending batch holds some of the keys; see the module doc."""
        batch = batch or self.new_batch()
        size = self.home.ledger.size()
        self.meta.execute(
            "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, 'pending', ?, NULL, ?, '[]')",
            (batch, self.worker, dataset, purpose, iso(self.home.now()), size),
        )
        # In chunks, each its own transaction: a large batch never holds the database's write
        # lock for long (the service's reads write their ledger entries in between). A crash
        # between chunks leaves a pending batch with part of its keys: recovery settles it.
        self._insert(dataset, batch, keys)
        mine = set(self._keys(batch))
        for _round in range(8):
            others = {k for k in keys if k not in mine}
            if not others:
                break
            holders = self.holders(dataset, others, exclude=batch)
            free = [k for k in others if k not in holders]
            pending = {h for h in holders.values() if h.state == "pending"}
            live = [h for h in pending if not self._settle_if_dead(h)]
            if live:
                self.release(batch)
                workers = sorted({h.worker for h in live})
                raise KeyContested(
                    f"{len(others):,} rows of a batch of {dataset} are held by a batch in "
                    f"progress of {', '.join(workers)}; trying again shortly"
                )
            if not free and not pending:
                break  # every other key is held by a stored batch: duplicates
            self._insert(dataset, batch, sorted(others))
            mine = set(self._keys(batch))
        else:
            self.release(batch)
            raise KeyContested(f"the keys of a batch of {dataset} keep changing hands")
        new = []
        for key in keys:
            fresh = key in mine
            if fresh:
                mine.discard(key)
            new.append(fresh)
        return Claim(batch, new)

    def _insert(self, dataset: str, batch: str, keys: Sequence[Key]) -> None:
        rows = [(dataset, v, t, k, batch) for v, t, k in keys]
        for start in range(0, len(rows), CLAIM_CHUNK):
            with self.meta.transaction():
                self.meta.executemany(
                    "INSERT INTO ingest_keys (dataset, vin, ts, kind, batch)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows[start : start + CLAIM_CHUNK],
                )

    def holders(
        self, dataset: str, keys: set[Key], *, exclude: str | None = None
    ) -> dict[Key, Holder]:
        """The batch holding each of ``keys`` (one not held is absent), each key's holder and
        its state read in one statement."""
        out: dict[Key, Holder] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), HOLDER_CHUNK):
            chunk = ordered[start : start + HOLDER_CHUNK]
            values = ", ".join(["(?, ?, ?)"] * len(chunk))
            rows = self.meta.query(
                "SELECT k.vin, k.ts, k.kind, b.id, b.state, b.worker FROM ingest_keys k"
                " JOIN ingest_batches b ON b.id = k.batch"
                f" WHERE k.dataset = ? AND (k.vin, k.ts, k.kind) IN (VALUES {values})",
                (dataset, *[x for key in chunk for x in key]),
            )
            for v, t, k, b, state, worker in rows:
                if b != exclude:
                    out[(str(v), int(t), str(k))] = Holder(str(b), str(state), str(worker))
        return out

    # -- workers ----------------------------------------------------------------------------
    def beat(self, meta: MetaDB | None = None) -> None:
        """Record that this worker is alive (now, on this host, this process)."""
        (meta or self.meta).execute(
            "INSERT INTO ingest_workers (worker, host, pid, seen_at, process)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (worker) DO UPDATE SET host = excluded.host,"
            " pid = excluded.pid, seen_at = excluded.seen_at, process = excluded.process",
            (self.worker, socket.gethostname(), os.getpid(), time.time(), _started(os.getpid())),
        )

    def _young(self, holder: Holder) -> bool:
        """Whether ``holder``'s worker never beat (a runner that does not, such as the HTTP
        service's) and its batch began less than ``takeover_after`` seconds ago: it may be in
        progress, so it is not taken over yet."""
        if self.meta.query("SELECT 1 FROM ingest_workers WHERE worker = ?", (holder.worker,)):
            return False
        rows = self.meta.query(
            "SELECT started_at FROM ingest_batches WHERE id = ?", (holder.batch,)
        )
        if not rows:
            return False
        age = (self.home.now() - parse_iso(str(rows[0][0]))).total_seconds()
        return age < self.takeover_after

    def alive(self, worker: str) -> bool:
        """Whether ``worker`` beat within ``takeover_after`` seconds and, if it ran on this
        host, its process still exists. A worker that never beat is judged by the age of its
        batch instead (see :meth:`_young`)."""
        rows = self.meta.query(
            "SELECT host, pid, seen_at, process FROM ingest_workers WHERE worker = ?", (worker,)
        )
        if not rows or time.time() - float(rows[0][2]) >= self.takeover_after:
            return False
        host, pid, _seen, process = rows[0]
        return str(host) != socket.gethostname() or _pid_alive(int(pid), process)

    def check_alone(self) -> None:
        """Raise ``BadInput`` if another live process runs as this worker (the same client id
        twice: the broker would hand the session back and forth)."""
        rows = self.meta.query(
            "SELECT host, pid, seen_at, process FROM ingest_workers WHERE worker = ?",
            (self.worker,),
        )
        if not rows:
            return
        host, pid, seen = str(rows[0][0]), int(rows[0][1]), float(rows[0][2])
        age = time.time() - seen
        if age >= self.takeover_after or (host, pid) == (socket.gethostname(), os.getpid()):
            return
        if host == socket.gethostname() and not _pid_alive(pid, rows[0][3]):
            return
        raise BadInput(
            f"worker {self.worker} already runs as pid {pid} on {host} (seen {age:.0f} s ago):"
            f" give each worker its own --client-id (if it is gone, start again in"
            f" {self.takeover_after - age:.0f} s)",
            field="client_id",
        )

    def settle_dead(self) -> list[str]:
        """Take over and settle the pending batches of every dead worker; their ids."""
        rows = self.meta.query(
            "SELECT id, state, worker FROM ingest_batches WHERE state = 'pending' AND worker <> ?",
            (self.worker,),
        )
        return [
            str(b) for b, st, w in rows if self._settle_if_dead(Holder(str(b), str(st), str(w)))
        ]

    def _settle_if_dead(self, holder: Holder) -> bool:
        """Settle ``holder`` if its worker is dead (``True``: it is settled, by this worker or
        by another that took it over first); ``False`` if its worker is alive."""
        if holder.worker == self.worker:
            return self._settle_mine(holder.batch)
        if self.alive(holder.worker) or self._young(holder):
            return False
        taken = self.meta.execute(
            "UPDATE ingest_batches SET worker = ?"
            " WHERE id = ? AND worker = ? AND state = 'pending'",
            (self.worker, holder.batch, holder.worker),
        )
        if taken:
            self.taken_over.append(holder.batch)
            for done in self._settle(holder.batch):
                log.warning(
                    "took over batch %s of dead worker %s and settled it: %s",
                    holder.batch,
                    holder.worker,
                    json.dumps(done.to_dict()),
                )
        return True  # settled here, or by another worker meanwhile: look again

    def _settle_mine(self, batch: str) -> bool:
        self._settle(batch)
        return True

    def _settle(self, batch: str) -> list[Recovered]:
        from onshore.ingest.recovery import recover  # recovery builds on this module

        return recover(self, batch=batch)

    def stored(self, batch: str, files: Sequence[str]) -> None:
        """The batch is durably stored (its messages may now be acknowledged).

        A batch another worker took over meanwhile (this process stood still for longer than
        ``takeover_after``: suspended, not merely slow, as its heartbeat has a thread of its
        own) is left as that worker settled it, and the fact is logged: rows it released may
        then be stored twice."""
        done = self.meta.execute(
            "UPDATE ingest_batches SET state = 'stored', finished_at = ?, files = ?"
            " WHERE id = ? AND worker = ?",
            (iso(self.home.now()), json.dumps(list(files)), batch, self.worker),
        )
        if not done:
            log.error(
                "batch %s of worker %s was taken over by another worker while it was being "
                "stored (this process stood still for %g s or more): files %s may hold rows "
                "stored twice",
                batch,
                self.worker,
                self.takeover_after,
                ", ".join(files),
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


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int, process: object = None) -> bool:
    """Whether the process ``pid`` of this host runs, and is the one that started at
    ``process`` when that was recorded (a pid of a dead worker may be in use again)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # another user's process: it exists
    if process is None:
        return True
    now = _started(pid)
    return now is None or now == str(process)


class Heartbeat:
    """Beats for ``index``'s worker every ``interval`` seconds in a thread of its own, on a
    connection of its own, so a long batch never makes a live worker look dead."""

    def __init__(self, index: KeyIndex, interval: float | None = None) -> None:
        self.index = index
        self.interval = interval or max(index.takeover_after / 6, 0.5)
        self._stop = threading.Event()
        self._meta = MetaDB(index.home.db_url, home=index.home.path)
        self.error: str | None = None
        index.beat(self._meta)
        self._thread = threading.Thread(target=self._run, name="ingest-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.index.beat(self._meta)
                self.error = None
            except StorageError as exc:  # the database is down: nobody can take over either
                self.error = str(exc)

    def close(self) -> None:
        """Stop beating (the worker then looks dead after ``takeover_after``)."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._meta.close()
