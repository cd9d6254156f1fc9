"""Consent and default no collection: the registry (an adapter) and the gate (pure core).

``ConsentRegistry`` records separate consents per vehicle, person, category and purpose, each
with a mandatory expiry; ``ConsentGate`` drops, at ingest, every column without a legal basis
for the purpose (the pack's ``bases.yaml``) and counts what it dropped.
"""

from onshore.consent.gate import ColumnDecision, ConsentGate, GateReport
from onshore.consent.model import Consent, check_grant
from onshore.consent.registry import ConsentRegistry

__all__ = [
    "ColumnDecision",
    "Consent",
    "ConsentGate",
    "ConsentRegistry",
    "GateReport",
    "check_grant",
]
