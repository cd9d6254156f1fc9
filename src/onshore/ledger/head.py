"""Signed tree heads: (tree size, root hash, timestamp) signed with Ed25519, and public keys.

The signed message is fixed-width and unambiguous::

    b"onshore-sth-v1\\x00" || uint64 tree_size || uint64 timestamp_ms || uint64 sequence
                         || root_hash (32 bytes)

(integers big-endian). ``sequence`` counts the heads before this one, so a deleted head leaves a
gap that verification sees (an addition to RFC 9162's tree head, in the spirit of its
extensions). The key id is the first 8 bytes of SHA-256 over the raw public key, hex.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> sth = sign_tree_head(3, bytes(32), 1_700_000_000_000, key, sequence=2)
>>> verify_tree_head(sth, {sth.key_id: key.public_key()})
True
>>> SignedTreeHead.from_dict(sth.to_dict()) == sth
True
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from onshore.errors import BadInput

STH_CONTEXT = b"onshore-sth-v1\x00"
_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.DOTALL)


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree size and root hash at a time, signed by the ledger key ``key_id``."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes
    sequence: int = 0

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return tree_head_message(self.tree_size, self.root_hash, self.timestamp_ms, self.sequence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp_ms": self.timestamp_ms,
            "sequence": self.sequence,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        try:
            return cls(
                tree_size=int(data["tree_size"]),
                root_hash=bytes.fromhex(data["root_hash"]),
                timestamp_ms=int(data["timestamp_ms"]),
                key_id=str(data["key_id"]),
                signature=bytes.fromhex(data["signature"]),
                sequence=int(data.get("sequence", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"malformed signed tree head: {exc!r}") from exc


def tree_head_message(tree_size: int, root_hash: bytes, timestamp_ms: int, sequence: int) -> bytes:
    """The signed message of a tree head."""
    if len(root_hash) != 32:
        raise ValueError("a root hash has 32 bytes")
    return STH_CONTEXT + struct.pack(">QQQ", tree_size, timestamp_ms, sequence) + root_hash


def public_key_id(public_key: Ed25519PublicKey) -> str:
    """The key id of an Ed25519 public key (same rule as the keystore's)."""
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def sign_tree_head(
    tree_size: int,
    root_hash: bytes,
    timestamp_ms: int,
    key: Ed25519PrivateKey,
    *,
    sequence: int = 0,
) -> SignedTreeHead:
    """Sign a tree head with ``key``; ``sequence`` is the number of heads before it."""
    signature = key.sign(tree_head_message(tree_size, root_hash, timestamp_ms, sequence))
    key_id = public_key_id(key.public_key())
    return SignedTreeHead(tree_size, root_hash, timestamp_ms, key_id, signature, sequence)


def verify_tree_head(
    sth: SignedTreeHead, public_keys: Mapping[str, Ed25519PublicKey] | Ed25519PublicKey
) -> bool:
    """True when the signature is valid under the key named by ``sth.key_id``."""
    keys = as_key_map(public_keys)
    key = keys.get(sth.key_id)
    if key is None or len(sth.root_hash) != 32 or min(sth.tree_size, sth.sequence) < 0:
        return False
    try:
        key.verify(sth.signature, sth.message())
    except (InvalidSignature, struct.error, ValueError):
        return False
    return True


def as_key_map(
    public_keys: Mapping[str, Ed25519PublicKey] | Ed25519PublicKey,
) -> dict[str, Ed25519PublicKey]:
    """A single public key or a mapping, as ``{key_id: key}``."""
    if isinstance(public_keys, Ed25519PublicKey):
        return {public_key_id(public_keys): public_keys}
    return dict(public_keys)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """PEM (SubjectPublicKeyInfo) text of a public key."""
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def public_key_hex(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, hex."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def load_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Public keys from PEM blocks or raw hex (one per line), by key id.

    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> pub = Ed25519PrivateKey.generate().public_key()
    >>> list(load_public_keys(public_key_pem(pub))) == list(load_public_keys(public_key_hex(pub)))
    True
    """
    keys: dict[str, Ed25519PublicKey] = {}
    blocks = _PEM_BLOCK.findall(text)
    try:
        for block in blocks:
            key = load_pem_public_key(block.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise BadInput("the public key is not an Ed25519 key")
            keys[public_key_id(key)] = key
        if not blocks:
            for line in text.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(line))
                    keys[public_key_id(key)] = key
    except ValueError as exc:
        raise BadInput(f"not an Ed25519 public key (PEM or 64 hex digits): {exc}") from exc
    if not keys:
        raise BadInput("no public key found (expected PEM or 64 hex digits)")
    return keys
