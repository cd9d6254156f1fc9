"""The Merkle core against RFC 9162's definitions, written naively, and known CT vectors."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from onshore.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    consistency_path_from,
    inclusion_path,
    inclusion_path_from,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# The leaves and roots of the Certificate Transparency reference test suite.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = _k(len(data))
    return hashlib.sha256(b"\x01" + naive_mth(data[:k]) + naive_mth(data[k:])).digest()


def naive_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = _k(len(data))
    if m < k:
        return [*naive_path(m, data[:k]), naive_mth(data[k:])]
    return [*naive_path(m - k, data[k:]), naive_mth(data[:k])]


def naive_subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [naive_mth(data)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, data[:k], b), naive_mth(data[k:])]
    return [*naive_subproof(m - k, data[k:], False), naive_mth(data[:k])]


def test_ct_reference_roots() -> None:
    data = [bytes.fromhex(x) for x in CT_LEAVES]
    hashes = [leaf_hash(d) for d in data]
    assert tree_root([]) == EMPTY_ROOT
    for n, expected in enumerate(CT_ROOTS, start=1):
        assert tree_root(hashes[:n]).hex() == expected
        assert Frontier.of(hashes[:n]).root().hex() == expected


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


@given(leaf_lists, st.data())
def test_inclusion_matches_rfc_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    n = len(data)
    m = draw.draw(st.integers(0, n - 1))
    hashes = [leaf_hash(d) for d in data]
    root = tree_root(hashes)
    assert root == naive_mth(data)
    path = inclusion_path(m, hashes)
    assert path == naive_path(m, data)
    assert verify_inclusion(hashes[m], m, n, path, root)
    # Wrong leaf, wrong index, wrong size, truncated path: all rejected.
    assert not verify_inclusion(leaf_hash(b"x" + data[m]), m, n, path, root)
    if n > 1:
        assert not verify_inclusion(hashes[m], (m + 1) % n, n, path, root)
        assert not verify_inclusion(hashes[m], m, n, path[:-1], root)


@given(leaf_lists, st.data())
def test_consistency_matches_rfc_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    n = len(data)
    m = draw.draw(st.integers(1, n))
    hashes = [leaf_hash(d) for d in data]
    proof = consistency_path(m, hashes)
    assert proof == (naive_subproof(m, data, True) if m < n else [])
    old, new = tree_root(hashes[:m]), tree_root(hashes)
    assert verify_consistency(m, n, old, new, proof)
    assert verify_consistency(0, n, EMPTY_ROOT, new, [])
    if m < n:
        bad_old = leaf_hash(b"tampered")
        assert not verify_consistency(m, n, bad_old, new, proof)
        assert not verify_consistency(m, n, old, bad_old, proof)
        assert not verify_consistency(m, n, old, new, proof[:-1])


@given(st.lists(st.binary(max_size=4), max_size=80))
def test_frontier_round_trip_and_root(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    frontier = Frontier.of(hashes)
    assert frontier.size == len(data)
    assert frontier.root() == tree_root(hashes)
    assert Frontier.from_bytes(frontier.size, frontier.to_bytes()) == frontier


@given(leaf_lists, st.data())
def test_proofs_from_perfect_subtrees_equal_proofs_from_leaves(
    data: list[bytes], draw: st.DataObject
) -> None:
    hashes = [leaf_hash(d) for d in data]
    n = len(hashes)
    asked: list[tuple[int, int]] = []

    def perfect(level: int, index: int) -> bytes:
        asked.append((level, index))
        assert (index + 1) << level <= n
        return tree_root(hashes[index << level : (index + 1) << level])

    m = draw.draw(st.integers(0, n - 1))
    assert inclusion_path_from(m, n, perfect) == inclusion_path(m, hashes)
    assert len(asked) <= 2 * n.bit_length() ** 2
    old = draw.draw(st.integers(0, n))
    assert consistency_path_from(old, n, perfect) == consistency_path(old, hashes)


@given(st.lists(st.binary(max_size=4), max_size=140))
def test_append_reports_every_completed_perfect_subtree(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    frontier, seen = Frontier.empty(), {}
    for h in hashes:
        frontier, made = frontier.append_reporting(h)
        for level, index, value in made:
            seen[(level, index)] = value
    expected = {
        (level, index): tree_root(hashes[index << level : (index + 1) << level])
        for level in range(1, len(hashes).bit_length())
        for index in range(len(hashes) >> level)
    }
    assert seen == expected
