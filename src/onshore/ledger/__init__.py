"""The tamper-evident ledger: a Merkle-tree log of processing activities (RFC 9162 style).

Pure core: ``merkle`` (hashes, audit paths), ``entry`` (canonical JSON), ``head`` (signed tree
heads), ``proofs`` and ``verify``. Adapters: the ``sql`` backend (``sqlite`` and ``postgres``
name it on each database), ``export``, ``audit`` (what an auditor runs) and ``Ledger`` tying
them together.

>>> import tempfile
>>> from onshore.keystore import Keystore
>>> home = tempfile.mkdtemp()
>>> with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
...     head = ledger.record(Activity.DELETION, actor="dpo", purpose="subject request",
...                          dataset="telemetry", counts={"rows": 42})
...     ok = ledger.verify().ok
>>> head.tree_size, ok
(1, True)
"""

from __future__ import annotations

from onshore.database import default_db_url
from onshore.ledger.audit import verify_export, verify_proof_standalone
from onshore.ledger.backend import LedgerBackend, StoredEntry, open_backend
from onshore.ledger.entry import Activity, LedgerEntry, canonical_json, parse_activity
from onshore.ledger.export import ExportResult, export_ledger, read_export
from onshore.ledger.head import (
    SignedTreeHead,
    load_public_keys,
    public_key_hex,
    public_key_pem,
    sign_tree_head,
    verify_tree_head,
)
from onshore.ledger.log import EntryFields, Ledger, utc_now
from onshore.ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from onshore.ledger.verify import Problem, VerifyReport, verify_entries, verify_ledger

__all__ = [
    "Activity",
    "ConsistencyProof",
    "EntryFields",
    "ExportResult",
    "InclusionProof",
    "Ledger",
    "LedgerBackend",
    "LedgerEntry",
    "Problem",
    "SignedTreeHead",
    "StoredEntry",
    "VerifyReport",
    "canonical_json",
    "default_db_url",
    "export_ledger",
    "load_public_keys",
    "open_backend",
    "parse_activity",
    "public_key_hex",
    "public_key_pem",
    "read_export",
    "sign_tree_head",
    "utc_now",
    "verify_consistency_proof",
    "verify_entries",
    "verify_export",
    "verify_inclusion_proof",
    "verify_ledger",
    "verify_proof_standalone",
    "verify_tree_head",
]
