"""The pack's cross-border section (``transfer.yaml``) as typed, validated data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from onshore.errors import PackError
from onshore.packs import Pack
from onshore.packs.models import Ref

Exemption = Literal[
    "contract_necessity",
    "hr_management",
    "emergency",
    "foreign_origin",
    "vulnerability_incident_ota",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counting(_Strict):
    window: Literal["calendar_year"] = "calendar_year"
    sensitive_if_any: bool = True
    people_with_both: Literal["both", "sensitive_only"] = "both"
    people_with_both_ref: Ref | None = None
    natural_persons_ref: Ref | None = None
    group_by: list[Literal["recipient", "purpose"]] = Field(default_factory=list)


class Tier(_Strict):
    non_sensitive_gte: int | None = Field(default=None, ge=1)
    sensitive_gte: int | None = Field(default=None, ge=1)
    ref: Ref


class Tiers(_Strict):
    security_assessment: Tier
    standard_contract_or_certification: Tier
    none_required: Tier


class ImportantData(_Strict):
    ref: Ref
    pi_over_100k_is_important: bool = True
    pi_over_100k_gt: int = Field(default=100_000, ge=1)
    pi_over_100k_ref: Ref | None = None
    not_notified_ref: Ref | None = None


class RefOnly(_Strict):
    ref: Ref


class ExemptionRule(_Strict):
    applies_to: Literal["personal", "important"]
    requires_filing: bool = False
    ref: Ref


class Surveying(_Strict):
    categories: list[str] = Field(min_length=1)
    ref: Ref


class ApprovalRules(_Strict):
    security_assessment_valid_years: int = Field(ge=1)
    renewal_window_working_days: int = Field(ge=1)
    ref: Ref
    certification_valid_years: int | None = Field(default=None, ge=1)
    certification_ref: Ref | None = None
    period_ref: Ref | None = None


OutboundBasis = Literal[
    "separate_consent", "contract", "hr_management", "legal_obligation", "emergency"
]


class PiplDuties(_Strict):
    """PIPL duties on every export of PI: separate consent or another basis (Art. 39) and an
    impact assessment (Art. 55(4))."""

    outbound_consent_purpose: str
    outbound_consent_ref: Ref
    other_bases: list[OutboundBasis] = Field(default_factory=list)
    other_bases_ref: Ref
    impact_assessment_ref: Ref


class TransferPolicy(_Strict):
    """Thresholds, exemptions and approval rules of the transfer gate."""

    counting: Counting
    tiers: Tiers
    important_data: ImportantData
    ciio: RefOnly
    exemptions: dict[Exemption, ExemptionRule]
    remote_access: RefOnly
    surveying: Surveying
    approvals: ApprovalRules
    pipl: PiplDuties | None = None


def transfer_policy(pack: Pack) -> TransferPolicy:
    """Validate the pack's ``transfer.yaml``; errors name the file and the key."""
    raw = pack.extra.get("transfer")
    file = str(pack.path / "transfer.yaml")
    if raw is None:
        raise PackError("the pack has no transfer.yaml: the transfer gate needs it", file=file)
    try:
        policy = TransferPolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise PackError(first["msg"], file=file, field=key) from None
    for key in policy.surveying.categories:
        if key not in pack.categories:
            raise PackError(f"unknown category {key!r}", file=file, field="surveying.categories")
    return policy
