"""One ledger entry: a processing activity, encoded as canonical JSON so its hash is stable.

Canonical JSON here means (``onshore.jsonenc``, which also fixes the time text): UTF-8, object
keys sorted, no insignificant whitespace, no NaN or infinity. Decoding the bytes and encoding
them again gives the very same bytes, so an auditor in any language can recompute the leaf hash
from the exported JSON.

>>> from datetime import datetime, timezone
>>> e = LedgerEntry(
...     kind=Activity.COLLECTION, actor="ingest@fleet-1",
...     time=datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc), purpose="fleet-maintenance",
...     dataset="telemetry", categories=("location.trajectory",), counts={"records": 120},
...     decision="allowed", reasons=("cn-auto/consent/valid",))
>>> LedgerEntry.from_bytes(e.to_bytes()) == e
True
>>> e.to_bytes()[:40]
b'{"actor":"ingest@fleet-1","categories":['
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from onshore.errors import BadInput
from onshore.jsonenc import canonical_json, format_time, parse_time

__all__ = [
    "ENTRY_VERSION",
    "Activity",
    "LedgerEntry",
    "canonical_json",
    "format_time",
    "parse_activity",
    "parse_time",
]

ENTRY_VERSION = 1


class Activity(StrEnum):
    """The processing activities the rules name, plus ``view``, ``policy_refusal`` and
    ``risk_assessment``."""

    COLLECTION = "collection"
    STORAGE = "storage"
    USE = "use"
    PROVISION = "provision"  # to a third party
    EXPORT = "export"  # cross-border
    DELETION = "deletion"
    CONSENT_CHANGE = "consent_change"
    INCIDENT = "incident"
    COMPLAINT = "complaint"
    VIEW = "view"
    POLICY_REFUSAL = "policy_refusal"
    RISK_ASSESSMENT = "risk_assessment"  # of important-data processing (Provisions 2021 Art. 10)


@dataclass(frozen=True)
class LedgerEntry:
    """A processing activity: who did what, when, why, to which data, and what was decided.

    ``subject`` is an optional pseudonymous reference to a data subject (never a raw VIN);
    ``details`` holds further JSON values (request ids, legal references, destinations).
    ``time`` is kept to the millisecond.
    """

    kind: Activity
    actor: str
    time: datetime
    purpose: str
    dataset: str
    categories: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    decision: str | None = None
    reasons: tuple[str, ...] = ()
    subject: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_activity(self.kind))
        # Keep only what the encoding keeps, so ``from_bytes(to_bytes(e)) == e``.
        object.__setattr__(self, "time", parse_time(format_time(self.time)))
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        for name, value in self.counts.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadInput(f"count {name!r} must be an integer", field="counts")
        for name in ("actor", "purpose", "dataset"):
            if not isinstance(getattr(self, name), str):
                raise BadInput(f"{name} must be a string", field=name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object that is hashed (with a format version ``v``)."""
        return {
            "v": ENTRY_VERSION,
            "kind": self.kind.value,
            "actor": self.actor,
            "time": format_time(self.time),
            "purpose": self.purpose,
            "dataset": self.dataset,
            "categories": list(self.categories),
            "counts": dict(self.counts),
            "decision": self.decision,
            "reasons": list(self.reasons),
            "subject": self.subject,
            "details": dict(self.details),
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON of ``to_dict``: the bytes the leaf hash covers."""
        try:
            return canonical_json(self.to_dict())
        except (TypeError, ValueError) as exc:
            raise BadInput(f"ledger entry is not JSON-encodable: {exc}", field="details") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Rebuild an entry from ``to_dict`` output; raises ``BadInput`` on a malformed one."""
        try:
            if data.get("v") != ENTRY_VERSION:
                raise BadInput(f"unknown ledger entry version {data.get('v')!r}", field="v")
            return cls(
                kind=parse_activity(data["kind"]),
                actor=data["actor"],
                time=parse_time(data["time"]),
                purpose=data["purpose"],
                dataset=data["dataset"],
                categories=tuple(data.get("categories", ())),
                counts=dict(data.get("counts", {})),
                decision=data.get("decision"),
                reasons=tuple(data.get("reasons", ())),
                subject=data.get("subject"),
                details=dict(data.get("details", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInput(f"malformed ledger entry: {exc!r}") from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerEntry:
        """Decode canonical JSON bytes."""
        try:
            decoded = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"ledger entry is not valid JSON: {exc}") from exc
        if not isinstance(decoded, dict):
            raise BadInput("ledger entry is not a JSON object")
        return cls.from_dict(decoded)


def parse_activity(value: Activity | str) -> Activity:
    """An ``Activity`` from its name; ``BadInput`` listing the names otherwise."""
    try:
        return Activity(value)
    except ValueError:
        names = ", ".join(a.value for a in Activity)
        raise BadInput(f"unknown activity {value!r} (one of: {names})", field="kind") from None
