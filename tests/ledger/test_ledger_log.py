"""Appending, proofs, verification and tamper detection on the SQLite backend."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_support import make_entry, memory_ledger

from onshore.errors import BadInput, IntegrityError, StorageError
from onshore.keystore import LEDGER_KEY, Keystore
from onshore.ledger import (
    Activity,
    InclusionProof,
    Ledger,
    LedgerEntry,
    export_ledger,
    verify_consistency_proof,
    verify_export,
    verify_inclusion_proof,
)
from onshore.ledger.sqlite import SQLiteBackend


def test_append_returns_signed_heads_and_verifies(ledger: Ledger) -> None:
    for n in range(5):
        head = ledger.append(make_entry(n))
        assert head.tree_size == n + 1
        assert head.sequence == n
    head = ledger.append_many([make_entry(5), make_entry(6)])
    assert (head.tree_size, head.sequence) == (7, 5)
    report = ledger.verify()
    assert report.ok, report.problems
    assert (report.entries, report.heads) == (7, 6)
    assert report.root_hash == head.root_hash
    assert ledger.entry(3) == make_entry(3)


def test_record_uses_the_injected_clock(ledger: Ledger) -> None:
    ledger.record("consent_change", actor="app", purpose="navigation", dataset="consents")
    ((_, entry),) = ledger.entries()
    assert entry.kind is Activity.CONSENT_CHANGE
    assert entry.time.isoformat() == "2024-05-01T08:00:01+00:00"


def test_entries_filter_by_kind_and_dataset(ledger: Ledger) -> None:
    ledger.append(make_entry(0, Activity.COLLECTION, "telemetry"))
    ledger.append(make_entry(1, Activity.EXPORT, "telemetry"))
    ledger.append(make_entry(2, Activity.EXPORT, "charging"))
    assert [i for i, _ in ledger.entries(kind="export")] == [1, 2]
    assert [i for i, _ in ledger.entries(dataset="charging")] == [2]
    assert [i for i, _ in ledger.entries(kind=Activity.EXPORT, dataset="telemetry")] == [1]


def test_naive_times_and_unknown_kinds_are_refused() -> None:
    from datetime import datetime

    with pytest.raises(BadInput):
        LedgerEntry(Activity.USE, "a", datetime(2024, 1, 1), "p", "d")
    with pytest.raises(BadInput):
        LedgerEntry("sharing", "a", make_entry(0).time, "p", "d")  # type: ignore[arg-type]


def test_inclusion_and_consistency_proofs_verify_with_the_public_key(ledger: Ledger) -> None:
    for n in range(11):
        ledger.append(make_entry(n))
    public = next(iter(ledger.public_keys.values()))
    for index in range(11):
        proof = ledger.inclusion_proof(index)
        round_tripped = InclusionProof.from_dict(proof.to_dict())
        verify_inclusion_proof(round_tripped, public)
        verify_inclusion_proof(ledger.inclusion_proof(index, tree_size=index + 1), public)
    for old in range(1, 12):
        verify_consistency_proof(ledger.consistency_proof(old), public)
    proof = ledger.inclusion_proof(4)
    with pytest.raises(IntegrityError):
        verify_inclusion_proof(proof, public, entry=make_entry(5).to_bytes())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(IntegrityError, match="does not verify"):
        verify_inclusion_proof(proof, Ed25519PrivateKey.generate().public_key())


def test_append_refuses_a_corrupted_state(ledger: Ledger) -> None:
    ledger.append(make_entry(0))
    backend = ledger.backend
    assert isinstance(backend, SQLiteBackend)
    backend.execute("UPDATE ledger_state SET frontier = ?", [bytes(32)])
    with pytest.raises(IntegrityError):
        ledger.append(make_entry(1))
    assert ledger.size() == 1


# -- tampering: every single change is detected, with the first bad index ----------------------

TAMPERS = [
    "flip_byte",
    "flip_byte_fix_hash",
    "delete",
    "swap",
    "truncate",
    "change_column",
    "delete_head",
    "change_head",
]


def _tamper(backend: SQLiteBackend, how: str, i: int, j: int, size: int) -> int | None:
    """Apply one change; return the index verification must point at (None: any problem)."""
    q = backend._query  # the test reaches under the API on purpose
    if how in ("flip_byte", "flip_byte_fix_hash"):
        (data,) = q("SELECT entry FROM ledger_entries WHERE idx = ?", [i])[0]
        data = bytearray(data)
        pos = j % len(data)
        data[pos] ^= 0x01
        backend.execute("UPDATE ledger_entries SET entry = ? WHERE idx = ?", [bytes(data), i])
        if how == "flip_byte_fix_hash":
            from onshore.ledger.merkle import leaf_hash

            backend.execute(
                "UPDATE ledger_entries SET leaf_hash = ? WHERE idx = ?", [leaf_hash(bytes(data)), i]
            )
        return i
    if how == "delete":
        backend.execute("DELETE FROM ledger_entries WHERE idx = ?", [i])
        return i
    if how == "swap":
        a, b = sorted((i, j))
        if a == b:
            b = (a + 1) % size
            a, b = sorted((a, b))
        backend.execute("UPDATE ledger_entries SET idx = -1 WHERE idx = ?", [a])
        backend.execute("UPDATE ledger_entries SET idx = ? WHERE idx = ?", [a, b])
        backend.execute("UPDATE ledger_entries SET idx = ? WHERE idx = -1", [b])
        return a
    if how == "truncate":
        backend.execute("DELETE FROM ledger_entries WHERE idx >= ?", [i])
        return i
    if how == "change_column":
        backend.execute("UPDATE ledger_entries SET dataset = 'other' WHERE idx = ?", [i])
        return i
    heads = [r[0] for r in q("SELECT tree_size FROM ledger_heads ORDER BY tree_size")]
    target = heads[j % len(heads)]
    if how == "delete_head":
        backend.execute("DELETE FROM ledger_heads WHERE tree_size = ?", [target])
    else:
        backend.execute(
            "UPDATE ledger_heads SET timestamp_ms = timestamp_ms + 1 WHERE tree_size = ?", [target]
        )
    return None


batches = st.lists(st.integers(1, 3), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(batches=batches)
def test_verification_passes_after_any_sequence_of_appends(batches: list[int]) -> None:
    with memory_ledger() as ledger:
        n = 0
        for size in batches:
            ledger.append_many([make_entry(n + k) for k in range(size)])
            n += size
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.entries == n


@settings(max_examples=150, deadline=None)
@given(batches=batches, how=st.sampled_from(TAMPERS), data=st.data())
def test_verification_fails_after_any_single_change(
    batches: list[int], how: str, data: st.DataObject
) -> None:
    with memory_ledger() as ledger:
        n, starts = 0, []
        for size in batches:
            starts.append(n)
            ledger.append_many([make_entry(n + k) for k in range(size)])
            n += size
        if how == "swap" and n < 2:
            return
        i = data.draw(st.integers(0, n - 1), label="index")
        j = data.draw(st.integers(0, 10_000), label="other")
        assert isinstance(ledger.backend, SQLiteBackend)
        expected = _tamper(ledger.backend, how, i, j, n)
        report = ledger.verify()
        assert not report.ok
        if expected is not None:
            batch_start = max(s for s in starts if s <= expected)
            assert report.first_bad_index is not None
            assert batch_start <= report.first_bad_index <= expected, report.problems


def test_single_appends_locate_the_exact_index() -> None:
    with memory_ledger() as ledger:
        for n in range(20):
            ledger.append(make_entry(n))
        assert isinstance(ledger.backend, SQLiteBackend)
        _tamper(ledger.backend, "flip_byte_fix_hash", 13, 5, 20)
        report = ledger.verify()
        assert report.first_bad_index == 13
        assert "13" in report.summary()


def test_rotated_key_signs_new_heads_and_old_heads_still_verify(tmp_path: Path) -> None:
    keys = Keystore(tmp_path / "keys", environ={})
    with Ledger.open(home=tmp_path, keystore=keys) as ledger:
        first = ledger.append(make_entry(0))
    keys.rotate(LEDGER_KEY)
    with Ledger.open(home=tmp_path, keystore=keys) as ledger:
        second = ledger.append(make_entry(1))
        assert first.key_id != second.key_id
        assert ledger.verify().ok
    # A verifier that only knows the new key sees the old head as unverifiable.
    with Ledger.open(home=tmp_path, keystore=keys) as ledger:
        ledger.public_keys.pop(first.key_id)
        report = ledger.verify()
        assert not report.ok and "unknown key" in report.problems[0].message


def test_read_only_ledger_refuses_appends(tmp_path: Path) -> None:
    keys = Keystore(tmp_path / "keys", environ={})
    Ledger.open(home=tmp_path, keystore=keys).close()
    with (
        Ledger.open(home=tmp_path, keystore=keys, read_only=True) as ledger,
        pytest.raises(StorageError, match="read-only"),
    ):
        ledger.append(make_entry(0))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    line=st.integers(0, 10_000),
    change=st.sampled_from(["actor", "drop", "swap", "cut", "head"]),
)
def test_any_single_change_to_an_export_is_detected(n: int, line: int, change: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, memory_ledger() as ledger:
        for k in range(n):
            ledger.append(make_entry(k))
        result = export_ledger(ledger, Path(tmp) / "log.jsonl")
        assert verify_export(result.log_path, result.key_path).ok
        lines = result.log_path.read_text(encoding="utf-8").splitlines()
        entries = list(range(1, n + 1))  # line numbers of entry lines
        target = entries[line % n]
        if change == "actor":
            value = json.loads(lines[target])
            value["entry"]["actor"] += "x"
            lines[target] = json.dumps(value)
        elif change == "drop":
            del lines[target]
        elif change == "swap":
            if n < 2:
                return
            other = entries[(line + 1) % n]
            lines[target], lines[other] = lines[other], lines[target]
        elif change == "cut":
            lines = lines[:target]
        else:
            value = json.loads(lines[n + 1 + line % n])
            value["root_hash"] = "00" * 32
            lines[n + 1 + line % n] = json.dumps(value)
        result.log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert not verify_export(result.log_path, result.key_path).ok


def test_proofs_from_the_node_cache_match_proofs_from_all_leaves() -> None:
    from onshore.ledger.merkle import consistency_path, inclusion_path, leaf_hash

    with memory_ledger() as ledger:
        sizes = [1, 7, 64, 1, 100, 3, 130]
        n = 0
        for size in sizes:
            ledger.append_many([make_entry(n + k) for k in range(size)])
            n += size
        assert isinstance(ledger.backend, SQLiteBackend)
        assert ledger.backend.nodes()  # subtrees of 64+ leaves are cached
        hashes = [leaf_hash(row.entry) for row in ledger.backend.iter_entries()]
        public = next(iter(ledger.public_keys.values()))
        heads = [h.tree_size for h in ledger.backend.heads()]
        for tree_size in heads:
            for index in range(0, tree_size, 7):
                proof = ledger.inclusion_proof(index, tree_size)
                assert list(proof.path) == inclusion_path(index, hashes[:tree_size])
                verify_inclusion_proof(proof, public)
            for old in heads:
                if old <= tree_size:
                    cproof = ledger.consistency_proof(old, tree_size)
                    assert list(cproof.path) == consistency_path(old, hashes[:tree_size])
                    verify_consistency_proof(cproof, public)


def test_a_changed_cached_node_is_caught_and_a_missing_one_rebuilt() -> None:
    with memory_ledger() as ledger:
        ledger.append_many([make_entry(k) for k in range(200)])
        backend = ledger.backend
        assert isinstance(backend, SQLiteBackend)
        public = next(iter(ledger.public_keys.values()))
        backend.execute("DELETE FROM ledger_nodes WHERE level = 7")
        verify_inclusion_proof(ledger.inclusion_proof(3), public)  # rebuilt from level 6
        assert ledger.verify().ok
        backend.execute("UPDATE ledger_nodes SET hash = ? WHERE level = 6 AND idx = 0", [bytes(32)])
        report = ledger.verify()
        assert not report.ok and "cached subtree root" in report.problems[0].message
        with pytest.raises(IntegrityError, match="stored hashes"):
            ledger.inclusion_proof(150)
        backend.execute("INSERT INTO ledger_nodes VALUES (9, 5, ?)", [bytes(32)])
        assert any("outside the tree" in p.message for p in ledger.verify().problems)


def test_a_log_from_before_the_node_cache_migrates_and_proves(tmp_path: Path) -> None:
    keys = Keystore(tmp_path / "keys", environ={})
    with Ledger.open(home=tmp_path, keystore=keys) as ledger:
        ledger.append_many([make_entry(k) for k in range(100)])
        backend = ledger.backend
        assert isinstance(backend, SQLiteBackend)
        backend.execute("DROP TABLE ledger_nodes")
        backend.execute("DELETE FROM onshore_migrations WHERE component = 'ledger' AND version = 2")
    with Ledger.open(home=tmp_path, keystore=keys) as ledger:
        assert ledger.backend.nodes() == []
        public = next(iter(ledger.public_keys.values()))
        verify_inclusion_proof(ledger.inclusion_proof(99), public)
        ledger.append_many([make_entry(k) for k in range(100, 130)])
        assert ledger.verify().ok
