"""What an auditor runs: check a proof and an exported log with the public key alone.

No database, no keystore, no Onshore data home: only files the operator handed over.

    python -m onshore.ledger.audit --key audit.jsonl.pub.pem --proof proof-17.json
    python -m onshore.ledger.audit --key audit.jsonl.pub.pem --log audit.jsonl
    python -m onshore.ledger.audit --key KEY --proof proof-17.json --log audit.jsonl

Exit status: 0 verified, 3 does not verify, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from onshore.errors import BadInput, IntegrityError, OnshoreError
from onshore.ledger.export import ExportedLog, read_export
from onshore.ledger.head import load_public_keys
from onshore.ledger.merkle import tree_root
from onshore.ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from onshore.ledger.verify import Problem, VerifyReport, verify_entries

PathLike = str | os.PathLike[str]


Keys = Mapping[str, Ed25519PublicKey] | Ed25519PublicKey


def _keys(public_key: PathLike | Keys) -> Keys:
    if isinstance(public_key, (str, os.PathLike)):
        try:
            return load_public_keys(Path(public_key).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BadInput(f"cannot read the public key: {exc}", file=str(public_key)) from exc
    return public_key


def _load_json(path: PathLike) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read the proof: {exc}", file=str(path)) from exc
    if not isinstance(value, dict):
        raise BadInput("a proof is a JSON object", file=str(path))
    return value


def verify_export(
    log: PathLike, public_key: PathLike | Mapping[str, Ed25519PublicKey] | Ed25519PublicKey
) -> VerifyReport:
    """Verify an exported log end to end: every leaf, every root, every signature, and that
    it holds as many entries and heads as its header says (a cut-off file is caught)."""
    return _verify_exported(read_export(log), _keys(public_key))


def _verify_exported(exported: ExportedLog, keys: Keys) -> VerifyReport:
    report = verify_entries(exported.rows, exported.heads, keys)
    problems = list(report.problems)
    for what, have in (("entries", len(exported.rows)), ("heads", len(exported.heads))):
        said = exported.header.get(what)
        if said != have:
            index = min(have, said) if what == "entries" and isinstance(said, int) else None
            problems.append(
                Problem(index, f"the export's header says {said} {what}, it has {have}")
            )
    return replace(report, problems=tuple(problems))


def verify_proof_standalone(
    proof: PathLike | Mapping[str, Any],
    public_key: PathLike | Mapping[str, Ed25519PublicKey] | Ed25519PublicKey,
    log: PathLike | None = None,
) -> dict[str, Any]:
    """Check a proof (inclusion or consistency) with the public key; with ``log`` also check
    that the exported log holds the proven entry and yields the signed root.

    Returns a summary; raises ``IntegrityError`` when anything fails to verify.

    >>> import tempfile
    >>> from onshore.keystore import Keystore
    >>> from onshore.ledger import Ledger, export_ledger
    >>> home = tempfile.mkdtemp()
    >>> with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
    ...     for n in range(5):
    ...         _ = ledger.record("use", actor="analyst", purpose="r&d", dataset=f"d{n}")
    ...     proof = ledger.inclusion_proof(3).to_dict()
    ...     export = export_ledger(ledger, f"{home}/audit.jsonl")
    >>> verify_proof_standalone(proof, export.key_path, export.log_path)["verified"]
    True
    """
    data = _load_json(proof) if isinstance(proof, (str, os.PathLike)) else dict(proof)
    keys = _keys(public_key)
    if data.get("type") == "consistency":
        cproof = ConsistencyProof.from_dict(data)
        verify_consistency_proof(cproof, keys)
        summary: dict[str, Any] = {
            "verified": True,
            "type": "consistency",
            "old_size": cproof.old_head.tree_size,
            "new_size": cproof.new_head.tree_size,
        }
        heads = [cproof.old_head, cproof.new_head]
    else:
        iproof = InclusionProof.from_dict(data)
        verify_inclusion_proof(iproof, keys)
        summary = {
            "verified": True,
            "type": "inclusion",
            "leaf_index": iproof.leaf_index,
            "tree_size": iproof.tree_size,
            "root_hash": iproof.head.root_hash.hex(),
        }
        heads = [iproof.head]
    if log is not None:
        exported = read_export(log)
        report = _verify_exported(exported, keys)
        if not report.ok:
            raise IntegrityError(f"the exported log does not verify: {report.summary()}")
        hashes = [row.leaf_hash for row in exported.rows]
        for head in heads:
            if (
                head.tree_size > len(hashes)
                or tree_root(hashes[: head.tree_size]) != head.root_hash
            ):
                raise IntegrityError(
                    f"the exported log does not yield the proof's root at size {head.tree_size}"
                )
        if data.get("type") != "consistency":
            row = exported.rows[iproof.leaf_index]
            if iproof.entry and row.entry != iproof.entry:
                raise IntegrityError(
                    f"entry {iproof.leaf_index} in the export differs from the proof's entry"
                )
        summary["log_entries"] = report.entries
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m onshore.ledger.audit``: exit 0 verified, 3 not verified, 2 bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m onshore.ledger.audit",
        description="Check an Onshore ledger proof and/or exported log with the public key.",
        epilog="example: python -m onshore.ledger.audit --key audit.jsonl.pub.pem "
        "--proof proof.json --log audit.jsonl",
    )
    parser.add_argument("--key", required=True, help="public key file (PEM or raw hex)")
    parser.add_argument("--proof", help="a proof from `onshore ledger proof`")
    parser.add_argument("--log", help="an export from `onshore ledger export`")
    args = parser.parse_args(argv)
    if not args.proof and not args.log:
        parser.error("give --proof, --log or both")
    try:
        if args.proof:
            result = verify_proof_standalone(args.proof, args.key, args.log)
        else:
            report = verify_export(args.log, args.key)
            if not report.ok:
                print(json.dumps(report.to_dict(), indent=2))
                raise IntegrityError(report.summary())
            result = {"verified": True, "type": "log", **report.to_dict()}
    except OnshoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
