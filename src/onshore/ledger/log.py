"""The ledger: append entries, sign tree heads, hand out proofs. Storage is a backend adapter.

Each append (of one entry or a batch) runs in one exclusive backend transaction: read the cached
frontier, hash the new leaves, sign a tree head for the new size, write all of it, commit. So
every committed size has a signed head, and many processes can append to one log.

>>> import tempfile
>>> from datetime import datetime, timezone
>>> from onshore.keystore import Keystore
>>> home = tempfile.mkdtemp()
>>> clock = lambda: datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> keys = Keystore(f"{home}/keys", environ={})
>>> with Ledger.open(home=home, keystore=keys, clock=clock) as ledger:
...     head = ledger.record("collection", actor="ingest", purpose="maintenance",
...                          dataset="telemetry", counts={"records": 10})
...     proof = ledger.inclusion_proof(0)
...     report = ledger.verify()
>>> head.tree_size, report.ok
(1, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NotRequired, Required, TypedDict, Unpack

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from onshore.errors import BadInput, IntegrityError, StorageError
from onshore.keystore import Key, Keystore, onshore_home
from onshore.ledger.backend import (
    NODE_MIN_LEVEL,
    LedgerBackend,
    LogState,
    Node,
    StoredEntry,
    open_backend,
)
from onshore.ledger.entry import Activity, LedgerEntry, format_time, parse_activity
from onshore.ledger.head import SignedTreeHead, public_key_id, sign_tree_head
from onshore.ledger.merkle import (
    consistency_path_from,
    inclusion_path_from,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from onshore.ledger.proofs import ConsistencyProof, InclusionProof
from onshore.ledger.verify import VerifyReport, verify_ledger

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class EntryFields(TypedDict, total=False):
    """What a caller says of an activity (the ledger adds its kind, actor and time).

    ``purpose`` and ``dataset`` are required; ``categories`` are the data categories touched,
    ``counts`` named figures (``{"rows": 120}``), ``decision`` a gate's or a check's outcome,
    ``reasons`` the rule ids behind it, ``subject`` a data subject's pseudonym and ``details``
    anything else worth keeping (JSON values)."""

    purpose: Required[str]
    dataset: Required[str]
    categories: NotRequired[Sequence[str]]
    counts: NotRequired[Mapping[str, int] | None]
    decision: NotRequired[str | None]
    reasons: NotRequired[Sequence[str]]
    subject: NotRequired[str | None]
    details: NotRequired[Mapping[str, Any] | None]


class Ledger:
    """A tamper-evident, append-only log of processing activities."""

    def __init__(
        self,
        backend: LedgerBackend,
        signing_key: Key | Ed25519PrivateKey | None,
        *,
        public_keys: Mapping[str, Ed25519PublicKey] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``signing_key=None`` opens the ledger read-only (appends raise ``StorageError``)."""
        self.backend = backend
        self._key = signing_key.ed25519_private() if isinstance(signing_key, Key) else signing_key
        self.public_keys: dict[str, Ed25519PublicKey] = dict(public_keys or {})
        if self._key is not None:
            own = self._key.public_key()
            self.public_keys.setdefault(public_key_id(own), own)
        self.clock = clock

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        keystore: Keystore | None = None,
        clock: Clock = utc_now,
        read_only: bool = False,
    ) -> Ledger:
        """Open the ledger of a data home: ``meta.db`` (or ``db``) and the keystore's key.

        ``read_only`` creates nothing (no database, no key) and refuses appends.
        """
        base = home if home is not None else onshore_home()
        keys = keystore or Keystore(os.path.join(base, "keys"))
        backend = open_backend(db, home=base, create=not read_only)
        try:
            key = None if read_only else keys.ledger_signing_key()
            return cls(backend, key, public_keys=keys.ledger_public_keys(), clock=clock)
        except BaseException:
            backend.close()
            raise

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    # -- appends ------------------------------------------------------------------------------

    def build(
        self,
        kind: Activity | str,
        *,
        actor: str,
        time: datetime | None = None,
        **fields: Unpack[EntryFields],
    ) -> LedgerEntry:
        """One activity as an entry, not yet appended (timed by the clock unless ``time`` is
        given): entries built together go in with one :meth:`append_many`. ``fields`` are an
        entry's :class:`EntryFields` (``purpose`` and ``dataset`` are required)."""
        return LedgerEntry(
            kind=parse_activity(kind),
            actor=actor,
            time=time or self.clock(),
            purpose=fields["purpose"],
            dataset=fields["dataset"],
            categories=tuple(fields.get("categories", ())),
            counts=dict(fields.get("counts") or {}),
            decision=fields.get("decision"),
            reasons=tuple(fields.get("reasons", ())),
            subject=fields.get("subject"),
            details=dict(fields.get("details") or {}),
        )

    def record(
        self,
        kind: Activity | str,
        *,
        actor: str,
        time: datetime | None = None,
        **fields: Unpack[EntryFields],
    ) -> SignedTreeHead:
        """Append one activity (see :meth:`build`); returns the head."""
        return self.append(self.build(kind, actor=actor, time=time, **fields))

    def append(self, entry: LedgerEntry) -> SignedTreeHead:
        """Append one entry; returns the signed tree head that covers it (index = size - 1)."""
        return self.append_many([entry])

    def append_many(self, entries: Iterable[LedgerEntry]) -> SignedTreeHead:
        """Append entries atomically under one signed tree head; returns that head."""
        encoded = [(e, e.to_bytes()) for e in entries]
        if not encoded:
            raise BadInput("nothing to append")
        if self._key is None:
            raise StorageError("the ledger is open read-only (no signing key)")
        key = self._key
        with self.backend.append_transaction() as tx:
            state = tx.state()
            self._check_state(state, tx.latest_head())
            frontier = state.frontier
            rows: list[StoredEntry] = []
            nodes: list[Node] = []
            for entry, data in encoded:
                h = leaf_hash(data)
                rows.append(
                    StoredEntry(
                        frontier.size,
                        h,
                        data,
                        entry.kind.value,
                        entry.dataset,
                        format_time(entry.time),
                    )
                )
                frontier, made = frontier.append_reporting(h)
                nodes.extend(n for n in made if n[0] >= NODE_MIN_LEVEL)
            now_ms = int(self.clock().timestamp() * 1000)
            timestamp = max(now_ms, state.last_timestamp_ms)
            head = sign_tree_head(
                frontier.size, frontier.root(), timestamp, key, sequence=state.head_count
            )
            tx.write(rows, head, LogState(frontier, state.head_count + 1, timestamp), nodes)
        return head

    @staticmethod
    def _check_state(state: LogState, latest: SignedTreeHead | None) -> None:
        """Refuse to extend a log whose cached frontier disagrees with its latest head."""
        size = latest.tree_size if latest else 0
        if state.frontier.size != size or (latest and state.frontier.root() != latest.root_hash):
            raise IntegrityError(
                f"the ledger's state (size {state.frontier.size}) does not match its latest "
                f"signed tree head (size {size}); run `onshore ledger verify`"
            )

    # -- reads --------------------------------------------------------------------------------

    def size(self) -> int:
        """The size of the tree the latest signed head covers."""
        head = self.backend.latest_head()
        return head.tree_size if head else 0

    def head(self) -> SignedTreeHead | None:
        """The latest signed tree head, or ``None`` for an empty ledger."""
        return self.backend.latest_head()

    def entry(self, index: int) -> LedgerEntry:
        """The entry at ``index``."""
        rows = list(self.backend.iter_entries(index, index + 1))
        if not rows:
            raise BadInput(f"no ledger entry {index} (size {self.size()})", field="index")
        return LedgerEntry.from_bytes(rows[0].entry)

    def entries(
        self,
        *,
        kind: Activity | str | None = None,
        dataset: str | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[tuple[int, LedgerEntry]]:
        """``(index, entry)`` pairs in order, optionally filtered by kind and dataset."""
        kind_value = parse_activity(kind).value if kind is not None else None
        for row in self.backend.iter_entries(start, stop, kind=kind_value, dataset=dataset):
            yield row.index, LedgerEntry.from_bytes(row.entry)

    # -- proofs -------------------------------------------------------------------------------

    def _head(self, tree_size: int | None) -> SignedTreeHead:
        head = self.backend.latest_head() if tree_size is None else self.backend.head_at(tree_size)
        if head is None:
            what = (
                "the ledger is empty"
                if tree_size is None
                else f"no signed head of size {tree_size}"
            )
            raise BadInput(what, field="tree_size")
        return head

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``tree_size`` (default: latest head)."""
        head = self._head(tree_size)
        if not 0 <= index < head.tree_size:
            raise BadInput(
                f"entry {index} is outside the tree of size {head.tree_size}", field="index"
            )
        path = inclusion_path_from(index, head.tree_size, _TreeReader(self.backend, head.tree_size))
        rows = list(self.backend.iter_entries(index, index + 1))
        if not rows or not verify_inclusion(
            leaf_hash(rows[0].entry), index, head.tree_size, path, head.root_hash
        ):
            raise IntegrityError(
                f"entry {index} or the stored hashes do not match the signed head of size "
                f"{head.tree_size}; run `onshore ledger verify`"
            )
        return InclusionProof(index, head.tree_size, tuple(path), head, rows[0].entry)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``old_size`` is a prefix of the one of ``new_size``."""
        new = self._head(new_size)
        old = self._head(old_size)
        if old.tree_size > new.tree_size:
            raise BadInput(f"old size {old_size} is larger than new size {new.tree_size}")
        reader = _TreeReader(self.backend, new.tree_size)
        path = consistency_path_from(old.tree_size, new.tree_size, reader)
        if not verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, path):
            raise IntegrityError(
                f"the stored hashes do not prove size {old.tree_size} is a prefix of size "
                f"{new.tree_size}; run `onshore ledger verify`"
            )
        return ConsistencyProof(old, new, tuple(path))

    def verify(
        self,
        trusted_head: SignedTreeHead | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """Check the whole log; see ``verify_ledger``."""
        return verify_ledger(
            self.backend, self.public_keys, trusted_head=trusted_head, on_progress=on_progress
        )


class _TreeReader:
    """Perfect-subtree roots for proofs: cached nodes for big subtrees, leaf blocks below.

    A proof touches ``O(log n)`` cached nodes and at most a few blocks of
    ``2**NODE_MIN_LEVEL`` leaf hashes. A node missing from the cache (a log written before
    the cache existed) is rebuilt from its children.
    """

    def __init__(self, backend: LedgerBackend, size: int) -> None:
        self._backend = backend
        self._size = size
        self._blocks: dict[int, list[bytes]] = {}

    def _block(self, number: int) -> list[bytes]:
        if number not in self._blocks:
            lo = number << NODE_MIN_LEVEL
            hi = min(lo + (1 << NODE_MIN_LEVEL), self._size)
            hashes = self._backend.leaf_hashes(lo, hi)
            if len(hashes) != hi - lo:
                raise IntegrityError(
                    f"entries {lo}..{hi - 1} are incomplete below a signed head of size "
                    f"{self._size}; run `onshore ledger verify`"
                )
            self._blocks[number] = hashes
        return self._blocks[number]

    def __call__(self, level: int, index: int) -> bytes:
        if level < NODE_MIN_LEVEL:
            lo = index << level
            block = self._block(lo >> NODE_MIN_LEVEL)
            offset = lo & ((1 << NODE_MIN_LEVEL) - 1)
            return tree_root(block[offset : offset + (1 << level)])
        cached = self._backend.node(level, index)
        if cached is not None:
            return cached
        return node_hash(self(level - 1, 2 * index), self(level - 1, 2 * index + 1))
