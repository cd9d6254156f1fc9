"""Verify a whole ledger: recompute every leaf and root, check every signed tree head.

``verify_ledger`` streams the entries once (memory ``O(log n)`` plus the heads) and reports the
first bad index: the lowest entry index that may have been changed, deleted, reordered or cut.
When a head's root disagrees, the bad entry lies between the previous good head and that one;
since every append signs a head, that range is usually one append.

A log cut together with its newest heads cannot be told from an older log by the log alone;
pass a ``trusted_head`` an auditor kept (``onshore ledger head --json``) to catch that too.

>>> import tempfile
>>> from onshore.ledger.sqlite import SQLiteBackend
>>> backend = SQLiteBackend(f"{tempfile.mkdtemp()}/meta.db")
>>> verify_ledger(backend, {}).ok
True
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from onshore.errors import OnshoreError
from onshore.ledger.backend import LedgerBackend, LogState, Node, StoredEntry
from onshore.ledger.entry import Activity, canonical_json
from onshore.ledger.head import SignedTreeHead, as_key_map, verify_tree_head
from onshore.ledger.merkle import Frontier, leaf_hash


@dataclass(frozen=True)
class Problem:
    """One thing that does not verify; ``index`` is the first entry it may concern."""

    index: int | None
    message: str


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification."""

    entries: int
    heads: int
    root_hash: bytes | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        """The lowest entry index any problem points at (``None`` when intact or unknown)."""
        indices = [p.index for p in self.problems if p.index is not None]
        return min(indices) if indices else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "heads": self.heads,
            "root_hash": self.root_hash.hex() if self.root_hash else None,
            "first_bad_index": self.first_bad_index,
            "problems": [{"index": p.index, "message": p.message} for p in self.problems],
        }

    def summary(self) -> str:
        if self.ok:
            return f"ledger intact: {self.entries} entries, {self.heads} signed tree heads"
        first = self.first_bad_index
        where = f" (first bad index {first})" if first is not None else ""
        return f"ledger does NOT verify{where}: {self.problems[0].message}"


_KINDS = frozenset(a.value for a in Activity)


def _check_row(expected: int, row: StoredEntry) -> str | None:
    """What is wrong with one stored row, if anything."""
    if row.index != expected:
        return f"entry {expected} is missing (next stored index is {row.index})"
    if leaf_hash(row.entry) != row.leaf_hash:
        return f"entry {expected} does not match its stored leaf hash (changed)"
    # The hash chain is what proves integrity; these checks only make sure what was hashed is
    # an entry in canonical form and that the lookup columns tell the truth about it.
    try:
        entry = json.loads(row.entry)
        canonical = canonical_json(entry) == row.entry
    except (UnicodeDecodeError, ValueError) as exc:
        return f"entry {expected} does not decode: {exc}"
    if not canonical or not isinstance(entry, dict):
        return f"entry {expected} is not in canonical form"
    columns = (entry.get("kind"), entry.get("dataset"), entry.get("time"))
    if columns != (row.kind, row.dataset, row.time) or row.kind not in _KINDS:
        return f"entry {expected}: the kind/dataset/time columns disagree with the entry"
    return None


def verify_entries(
    rows: Iterable[StoredEntry],
    heads: Sequence[SignedTreeHead],
    public_keys: Mapping[str, Ed25519PublicKey] | Ed25519PublicKey,
    *,
    state: LogState | None = None,
    trusted_head: SignedTreeHead | None = None,
    on_progress: Callable[[int], None] | None = None,
    nodes: Iterable[Node] = (),
) -> VerifyReport:
    """The backend-free core of ``verify_ledger``: rows in index order, heads by size.

    ``nodes`` are the backend's cached subtree roots; each must match the entries.

    ``on_progress(entries_done)`` is called every 4096 entries.
    """
    keys = as_key_map(public_keys)
    problems: list[Problem] = []
    heads = sorted(heads, key=lambda h: h.tree_size)

    # Heads on their own: signatures, sequence numbers, timestamps.
    for position, head in enumerate(heads):
        if not verify_tree_head(head, keys):
            problems.append(
                Problem(
                    None,
                    f"signed tree head of size {head.tree_size} has a bad signature "
                    f"(or unknown key {head.key_id})",
                )
            )
        if head.sequence != position:
            problems.append(
                Problem(
                    None,
                    f"signed tree head {position} (size {head.tree_size}) carries "
                    f"sequence {head.sequence}: a head was deleted or reordered",
                )
            )
        if position and head.timestamp_ms < heads[position - 1].timestamp_ms:
            problems.append(
                Problem(
                    None,
                    f"signed tree head of size {head.tree_size} is older than the one before it",
                )
            )

    targets = {h.tree_size: h for h in heads}
    if trusted_head is not None and not verify_tree_head(trusted_head, keys):
        problems.append(Problem(None, "the trusted tree head has a bad signature"))
    frontier = Frontier.empty()
    cache = {(level, index): value for level, index, value in nodes}
    good_size = 0  # size of the last head whose root matched
    broken = False  # stop hashing rows after the first structural break
    for row in rows:
        expected = frontier.size
        trouble = _check_row(expected, row)
        if trouble is not None:
            problems.append(Problem(expected, trouble))
            broken = True
            break
        frontier, made = frontier.append_reporting(row.leaf_hash)
        for level, index, value in made:
            cached = cache.pop((level, index), None)
            if cached is not None and cached != value:
                first = index << level
                problems.append(
                    Problem(
                        None,
                        f"the cached subtree root over entries {first}..{first + (1 << level) - 1}"
                        " does not match them (proofs would fail)",
                    )
                )
        if on_progress is not None and not frontier.size & 4095:
            on_progress(frontier.size)
        checks: tuple[tuple[SignedTreeHead | None, str], ...] = (
            (targets.get(frontier.size), "signed tree head"),
            (trusted_head, "trusted head"),
        )
        for check, which in checks:
            if check is None or check.tree_size != frontier.size:
                continue
            if frontier.root() == check.root_hash:
                good_size = frontier.size
            else:
                problems.append(
                    Problem(
                        good_size,
                        f"the {which} of size {check.tree_size} does not match "
                        f"entries {good_size}..{check.tree_size - 1}",
                    )
                )
                broken = True
        if broken:
            break

    size = frontier.size
    if not broken:
        for level, index in sorted(cache):
            problems.append(
                Problem(
                    None,
                    f"a cached subtree root (level {level}, index {index}) lies outside the tree",
                )
            )
        latest = heads[-1].tree_size if heads else 0
        if latest > size:
            problems.append(
                Problem(
                    size,
                    f"the log has {size} entries but a signed tree head covers {latest}"
                    " (truncated)",
                )
            )
        elif size > latest:
            problems.append(
                Problem(
                    latest, f"entries {latest}..{size - 1} are not covered by any signed tree head"
                )
            )
        if trusted_head is not None and trusted_head.tree_size > size:
            problems.append(
                Problem(
                    size,
                    f"the log has {size} entries but the trusted head covers "
                    f"{trusted_head.tree_size} (truncated)",
                )
            )
        if state is not None and (
            state.frontier.size != size or state.frontier.to_bytes() != frontier.to_bytes()
        ):
            problems.append(
                Problem(
                    None,
                    "the cached ledger state does not match the entries; appends will be refused",
                )
            )
        if state is not None and state.head_count != len(heads):
            problems.append(
                Problem(
                    None,
                    f"the cached ledger state counts {state.head_count} heads, "
                    f"the log holds {len(heads)}",
                )
            )
    root = frontier.root() if not broken else None
    return VerifyReport(size, len(heads), root, tuple(problems))


def verify_ledger(
    backend: LedgerBackend,
    public_keys: Mapping[str, Ed25519PublicKey] | Ed25519PublicKey,
    *,
    trusted_head: SignedTreeHead | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify everything a backend holds; never raises on a bad log, returns the problems.

    The state, the heads and the entries are read in one snapshot of the database, so an
    append by another process meanwhile (its entries, head and state, committed together) is
    never half seen and reported as damage.
    """
    db = getattr(backend, "db", None)
    with db.snapshot() if db is not None else contextlib.nullcontext():
        return _verify_once(backend, public_keys, trusted_head, on_progress)


def _verify_once(
    backend: LedgerBackend,
    public_keys: Mapping[str, Ed25519PublicKey] | Ed25519PublicKey,
    trusted_head: SignedTreeHead | None,
    on_progress: Callable[[int], None] | None,
) -> VerifyReport:
    try:
        state: LogState | None = backend.state()
        unreadable: tuple[Problem, ...] = ()
    except OnshoreError as exc:
        state, unreadable = None, (Problem(None, f"the cached ledger state: {exc}"),)
    report = verify_entries(
        backend.iter_entries(),
        backend.heads(),
        public_keys,
        state=state,
        trusted_head=trusted_head,
        on_progress=on_progress,
        nodes=backend.nodes(),
    )
    return replace(report, problems=report.problems + unreadable)


def report_json(report: VerifyReport) -> str:
    """The report as JSON text."""
    return json.dumps(report.to_dict(), indent=2)
