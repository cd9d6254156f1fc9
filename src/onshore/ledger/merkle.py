"""Merkle tree hashing, audit paths and their verification (RFC 9162 §2.1), with no I/O.

The tree over leaves ``d[0..n)`` is the one Certificate Transparency defines:

* the hash of an empty tree is ``SHA-256()``;
* a leaf hash is ``SHA-256(0x00 || d)``;
* an interior node is ``SHA-256(0x01 || left || right)``, where the left subtree holds the
  largest power of two strictly smaller than ``n`` leaves.

Functions here take *leaf hashes* (not the leaf data) so a caller can keep 32 bytes a leaf.

>>> hashes = [leaf_hash(bytes([i])) for i in range(7)]
>>> root = tree_root(hashes)
>>> verify_inclusion(hashes[5], 5, 7, inclusion_path(5, hashes), root)
True
>>> old = tree_root(hashes[:3])
>>> verify_consistency(3, 7, old, root, consistency_path(3, hashes))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: ``SHA-256(0x00 || data)``.

    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH over ``hashes[lo:hi]``; ``hi > lo``."""
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = _split(n)
    return node_hash(_subtree_root(hashes, lo, lo + k), _subtree_root(hashes, lo + k, hi))


def tree_root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) over a list of leaf hashes.

    >>> tree_root([]) == EMPTY_ROOT
    True
    >>> a, b = leaf_hash(b"a"), leaf_hash(b"b")
    >>> tree_root([a, b]) == node_hash(a, b)
    True
    """
    if not hashes:
        return EMPTY_ROOT
    return _subtree_root(hashes, 0, len(hashes))


RangeRoot = Callable[[int, int], bytes]
"""``root_of(lo, hi)``: the Merkle tree hash over leaves ``lo .. hi-1``."""

PerfectRoot = Callable[[int, int], bytes]
"""``perfect(level, index)``: the root of the perfect subtree over leaves
``index * 2**level .. (index + 1) * 2**level - 1``."""


def range_root(lo: int, hi: int, perfect: PerfectRoot) -> bytes:
    """MTH over leaves ``lo .. hi-1``, built from perfect aligned subtrees only.

    Every range RFC 9162's recursion meets starts at a multiple of its largest power-of-two
    part, so ``perfect`` is only asked for aligned subtrees: ``O(log n)`` of them.
    """
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return perfect(level, lo >> level)
    k = _split(n)
    return node_hash(range_root(lo, lo + k, perfect), range_root(lo + k, hi, perfect))


def _inclusion(index: int, size: int, root_of: RangeRoot) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    # Walk down from the root, collecting the sibling of each subtree that holds the leaf;
    # the path lists siblings from the leaf up, so collect top-down and reverse.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(root_of(lo + k, hi))
            hi = lo + k
        else:
            path.append(root_of(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def _consistency(old_size: int, size: int, root_of: RangeRoot) -> list[bytes]:
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                proof.append(root_of(lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            proof.append(root_of(lo + k, hi))
            hi = lo + k
        else:
            proof.append(root_of(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return proof


def inclusion_path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path (RFC 9162 §2.1.3.1) of leaf ``index`` in the tree over ``hashes``.

    >>> h = [leaf_hash(bytes([i])) for i in range(3)]
    >>> inclusion_path(2, h) == [node_hash(h[0], h[1])]
    True
    """
    return _inclusion(index, len(hashes), lambda lo, hi: _subtree_root(hashes, lo, hi))


def consistency_path(old_size: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The consistency proof (RFC 9162 §2.1.4.1) between size ``old_size`` and ``len(hashes)``.

    Empty when ``old_size`` is 0 or equals the new size.
    """
    return _consistency(old_size, len(hashes), lambda lo, hi: _subtree_root(hashes, lo, hi))


def inclusion_path_from(index: int, size: int, perfect: PerfectRoot) -> list[bytes]:
    """``inclusion_path`` from perfect subtree roots (a store's node cache) instead of leaves.

    >>> h = [leaf_hash(bytes([i])) for i in range(6)]
    >>> perfect = lambda level, i: tree_root(h[i << level : (i + 1) << level])
    >>> inclusion_path_from(4, 6, perfect) == inclusion_path(4, h)
    True
    """
    return _inclusion(index, size, lambda lo, hi: range_root(lo, hi, perfect))


def consistency_path_from(old_size: int, size: int, perfect: PerfectRoot) -> list[bytes]:
    """``consistency_path`` from perfect subtree roots instead of leaves."""
    return _consistency(old_size, size, lambda lo, hi: range_root(lo, hi, perfect))


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root implied by a leaf hash and its audit path, or ``None`` if the path is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """True when ``path`` proves leaf hash ``leaf`` sits at ``index`` in the tree with ``root``.

    RFC 9162 §2.1.3.2.
    """
    return root_from_inclusion(leaf, index, size, path) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True when ``path`` proves the tree of ``old_size`` is a prefix of the one of ``new_size``.

    RFC 9162 §2.1.4.2, plus the trivial cases: an empty old tree is a prefix of anything, and a
    tree is consistent with itself when the roots agree and the proof is empty.
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    c = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        c.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = c[0]
    for p in c[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(p, fr)
            sr = node_hash(p, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


@dataclass(frozen=True)
class Frontier:
    """The roots of the perfect subtrees of a tree, left to right: enough to append and to root.

    A tree of ``size`` leaves has one perfect subtree per set bit of ``size``; appending is
    ``O(log n)`` and needs no other leaf.

    >>> f = Frontier.empty()
    >>> for i in range(5):
    ...     f = f.append(leaf_hash(bytes([i])))
    >>> f.root() == tree_root([leaf_hash(bytes([i])) for i in range(5)])
    True
    >>> Frontier.from_bytes(5, f.to_bytes()) == f
    True
    """

    size: int
    nodes: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        """Rebuild from ``to_bytes``; raises ``ValueError`` when the blob does not fit ``size``."""
        count = size.bit_count()
        if len(blob) != count * HASH_SIZE:
            raise ValueError(f"frontier of size {size} needs {count} hashes, got {len(blob)} bytes")
        nodes = tuple(blob[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(count))
        return cls(size, nodes)

    @classmethod
    def of(cls, hashes: Sequence[bytes]) -> Frontier:
        """The frontier of the tree over ``hashes``."""
        frontier = cls.empty()
        for h in hashes:
            frontier = frontier.append(h)
        return frontier

    def to_bytes(self) -> bytes:
        return b"".join(self.nodes)

    def append(self, leaf: bytes) -> Frontier:
        """The frontier after appending one leaf hash."""
        return self.append_reporting(leaf)[0]

    def append_reporting(self, leaf: bytes) -> tuple[Frontier, list[tuple[int, int, bytes]]]:
        """Append one leaf hash; also return the perfect subtrees it completed.

        Each is ``(level, index, hash)``: the root over leaves ``index * 2**level`` onwards.

        >>> f, made = Frontier.of([leaf_hash(b"a")]).append_reporting(leaf_hash(b"b"))
        >>> [(level, index) for level, index, _ in made]
        [(1, 0)]
        """
        nodes = list(self.nodes)
        node = leaf
        made: list[tuple[int, int, bytes]] = []
        size = self.size + 1
        # Each trailing 1-bit of the old size is a perfect subtree that merges with the new one.
        carry, level = self.size, 0
        while carry & 1:
            node = node_hash(nodes.pop(), node)
            carry >>= 1
            level += 1
            made.append((level, (size >> level) - 1, node))
        nodes.append(node)
        return Frontier(size, tuple(nodes)), made

    def root(self) -> bytes:
        """The Merkle tree hash of the whole tree."""
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            r = node_hash(node, r)
        return r
