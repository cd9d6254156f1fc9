"""Inclusion and consistency proofs as values, and their verification with a public key alone.

A proof carries its signed tree head, so checking it needs only the proof, the leaf (the entry)
and the ledger's public key: no database, no keystore.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from onshore.ledger.merkle import leaf_hash, inclusion_path, tree_root
>>> from onshore.ledger.head import sign_tree_head
>>> key = Ed25519PrivateKey.generate()
>>> leaves = [b'{"n":1}', b'{"n":2}', b'{"n":3}']
>>> hashes = [leaf_hash(d) for d in leaves]
>>> head = sign_tree_head(3, tree_root(hashes), 0, key)
>>> proof = InclusionProof(1, 3, tuple(inclusion_path(1, hashes)), head, leaves[1])
>>> verify_inclusion_proof(InclusionProof.from_dict(proof.to_dict()), key.public_key())
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from onshore.errors import BadInput, IntegrityError
from onshore.ledger.entry import canonical_json
from onshore.ledger.head import SignedTreeHead, verify_tree_head
from onshore.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion

PublicKeys = Mapping[str, Ed25519PublicKey] | Ed25519PublicKey


@dataclass(frozen=True)
class InclusionProof:
    """Entry ``leaf_index`` is in the tree of ``tree_size`` that ``head`` signs.

    ``entry`` holds the entry's canonical JSON bytes (may be empty when the verifier brings the
    leaf itself).
    """

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]
    head: SignedTreeHead
    entry: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "inclusion",
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "path": [p.hex() for p in self.path],
            "signed_tree_head": self.head.to_dict(),
        }
        if self.entry:
            payload["leaf_hash"] = leaf_hash(self.entry).hex()
            payload["entry"] = json.loads(self.entry)
        return payload

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InclusionProof:
        try:
            entry = canonical_json(data["entry"]) if "entry" in data else b""
            return cls(
                leaf_index=int(data["leaf_index"]),
                tree_size=int(data["tree_size"]),
                path=tuple(bytes.fromhex(p) for p in data["path"]),
                head=SignedTreeHead.from_dict(data["signed_tree_head"]),
                entry=entry,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"malformed inclusion proof: {exc!r}") from exc


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old_head`` is a prefix of the tree of ``new_head``."""

    old_head: SignedTreeHead
    new_head: SignedTreeHead
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "consistency",
            "old_size": self.old_head.tree_size,
            "new_size": self.new_head.tree_size,
            "path": [p.hex() for p in self.path],
            "old_signed_tree_head": self.old_head.to_dict(),
            "new_signed_tree_head": self.new_head.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsistencyProof:
        try:
            return cls(
                old_head=SignedTreeHead.from_dict(data["old_signed_tree_head"]),
                new_head=SignedTreeHead.from_dict(data["new_signed_tree_head"]),
                path=tuple(bytes.fromhex(p) for p in data["path"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"malformed consistency proof: {exc!r}") from exc


def verify_inclusion_proof(
    proof: InclusionProof, public_keys: PublicKeys, entry: bytes | None = None
) -> None:
    """Check the head's signature and the audit path; raise ``IntegrityError`` if either fails.

    ``entry`` (canonical JSON bytes) overrides the entry carried by the proof.
    """
    leaf = entry if entry is not None else proof.entry
    if not leaf:
        raise IntegrityError("the inclusion proof carries no entry and none was given")
    if not verify_tree_head(proof.head, public_keys):
        raise IntegrityError(
            f"the signed tree head of size {proof.head.tree_size} does not verify under "
            f"key {proof.head.key_id}"
        )
    if proof.head.tree_size != proof.tree_size:
        raise IntegrityError(
            f"the proof is for size {proof.tree_size}, its head for {proof.head.tree_size}"
        )
    if not verify_inclusion(
        leaf_hash(leaf), proof.leaf_index, proof.tree_size, proof.path, proof.head.root_hash
    ):
        raise IntegrityError(
            f"entry {proof.leaf_index} is not in the tree of size {proof.tree_size} "
            f"(audit path does not lead to root {proof.head.root_hash.hex()[:16]}…)"
        )


def verify_consistency_proof(proof: ConsistencyProof, public_keys: PublicKeys) -> None:
    """Check both heads' signatures and the consistency path; raise ``IntegrityError`` if not."""
    for head in (proof.old_head, proof.new_head):
        if not verify_tree_head(head, public_keys):
            raise IntegrityError(f"the signed tree head of size {head.tree_size} does not verify")
    old, new = proof.old_head, proof.new_head
    if not verify_consistency(
        old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof.path
    ):
        raise IntegrityError(
            f"the tree of size {old.tree_size} is not a prefix of the tree of size {new.tree_size}"
        )
