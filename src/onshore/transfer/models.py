"""Values of the transfer gate: the request, the facts, approvals on record, the decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from onshore.errors import BadInput
from onshore.model import LegalRef
from onshore.text import Name, Note
from onshore.transfer.policy import Exemption, OutboundBasis

Mechanism = Literal["none_required", "standard_contract_or_certification", "security_assessment"]
ApprovalKind = Literal[
    "security_assessment",
    "standard_contract",
    "certification",
    "mapping_approval",
    "regulator_filing",
]


class RecipientModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1)
    country: str = Field(min_length=2, max_length=2)
    contact: Note = ""


class RequestModel(BaseModel):
    """A transfer request as sent (a file, an API body): validated text, typed fields."""

    model_config = ConfigDict(extra="forbid")
    dataset: Note = Field(min_length=1)
    recipient: RecipientModel
    purpose: Name = Field(min_length=1)
    access_mode: Literal["push", "remote_access"] = "push"
    exemption: Exemption | None = None
    profile: str | None = None
    impact_assessment: Note | None = None
    outbound_basis: OutboundBasis = "separate_consent"
    outbound_basis_note: Note = ""
    storage_location: Note = ""
    storage_period: Note = ""
    scope_of_use: Note = ""
    manner_of_use: Note = ""
    necessity: Note = ""


@dataclass(frozen=True)
class Recipient:
    name: str
    country: str
    contact: str = ""


@dataclass(frozen=True)
class UseAbroad:
    """What the recipient does with the data abroad (Provisions 2021 Art. 14; PIPL Art. 39):
    where and how long it is stored, the scope and manner of use, and why the export is
    necessary. Empty strings when the request does not say."""

    storage_location: str = ""
    storage_period: str = ""
    scope_of_use: str = ""
    manner_of_use: str = ""
    necessity: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class TransferRequest:
    """What is to leave the country, to whom, why, and how.

    >>> TransferRequest.from_mapping({"dataset": "d.parquet", "purpose": "warranty analytics",
    ...     "recipient": {"name": "Acme GmbH", "country": "DE"}}).access_mode
    'push'
    """

    dataset: str
    recipient: Recipient
    purpose: str
    access_mode: Literal["push", "remote_access"] = "push"
    exemption: Exemption | None = None
    profile: str | None = None
    impact_assessment: str | None = None
    outbound_basis: OutboundBasis = "separate_consent"
    outbound_basis_note: str = ""
    use: UseAbroad = field(default_factory=UseAbroad)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, file: str | None = None) -> TransferRequest:
        try:
            m = RequestModel.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise BadInput(first["msg"], file=file, field=key) from None
        return cls(
            dataset=m.dataset,
            recipient=Recipient(m.recipient.name, m.recipient.country.upper(), m.recipient.contact),
            purpose=m.purpose,
            access_mode=m.access_mode,
            exemption=m.exemption,
            profile=m.profile,
            impact_assessment=(m.impact_assessment or "").strip() or None,
            outbound_basis=m.outbound_basis,
            outbound_basis_note=m.outbound_basis_note,
            use=UseAbroad(
                m.storage_location, m.storage_period, m.scope_of_use, m.manner_of_use, m.necessity
            ),
        )


@dataclass(frozen=True)
class ProcessorSettings:
    """The exporting processor, from configuration."""

    legal_entity: str
    ciio: bool = False


@dataclass(frozen=True)
class Approval:
    """An approval, filing or certification on record, with its scope.

    Empty ``categories`` and a ``None`` recipient, purpose or maximum mean "not limited".
    """

    id: str
    kind: ApprovalKind
    issued: dt.date
    expires: dt.date | None = None
    recipient: str | None = None
    purpose: str | None = None
    categories: tuple[str, ...] = ()
    max_individuals: int | None = None


@dataclass(frozen=True)
class TransferFacts:
    """What the (desensitized) dataset is and how many people it reaches, counted by the gate.

    ``cumulative_*`` include this transfer: distinct individuals exported since 1 January,
    each once, as sensitive if any of their exported records was. ``group_individuals`` counts
    the same for this recipient and purpose (what an approval's maximum is checked against).
    """

    year: int
    important_rules: tuple[str, ...]
    categories: tuple[str, ...]
    has_personal: bool
    individuals: int
    sensitive_individuals: int
    cumulative_non_sensitive: int
    cumulative_sensitive: int
    group_individuals: int
    cumulative_individuals: int | None = None
    without_outbound_consent: int | None = None

    @property
    def year_individuals(self) -> int:
        """Distinct natural persons exported this year by the processor, across all datasets
        (at least the larger of the two totals when not given)."""
        if self.cumulative_individuals is not None:
            return self.cumulative_individuals
        return max(self.cumulative_non_sensitive, self.cumulative_sensitive)

    @property
    def lacking_outbound_consent(self) -> int:
        """Individuals of this transfer without a separate consent to it on record (all of them
        when the gate was not told)."""
        if self.without_outbound_consent is None:
            return self.individuals
        return self.without_outbound_consent


@dataclass(frozen=True)
class Reason:
    """Why the gate decided as it did: a rule, its legal reference, the figures."""

    rule_id: str
    ref: LegalRef
    text: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "ref": asdict(self.ref) | {"text": str(self.ref)},
            "text": self.text,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Decision:
    """The gate's answer: a value, never an exception."""

    mechanism: Mechanism
    allowed: bool
    missing: tuple[str, ...]
    reasons: tuple[Reason, ...]
    counts: dict[str, int]
    approval_used: str | None = None
    mapping_approval_used: str | None = None
    reading: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mechanism": self.mechanism,
            "allowed": self.allowed,
            "missing": list(self.missing),
            "reasons": [r.to_dict() for r in self.reasons],
            "counts": self.counts,
            "approval_used": self.approval_used,
            "mapping_approval_used": self.mapping_approval_used,
            "reading": self.reading,
        }
