"""The transfer gate's decision: which legal mechanism applies, and whether it is satisfied.

Rules, in the order they apply (regulation.md §3; every threshold lives in ``transfer.yaml``):

1. important data → security assessment, unless the vulnerability/incident/OTA exemption is
   claimed with a regulator filing on record;
2. a critical information infrastructure operator exporting personal data → security assessment;
3. an exemption for personal data (contract, HR, emergency, foreign origin) → none required;
4. cumulative individuals since 1 January → security assessment / standard contract or
   certification / none required;
5. no personal and no important data → none required.

Surveying data additionally needs a mapping approval on record. The decision is a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from onshore.packs import Pack
from onshore.transfer.models import (
    Approval,
    ApprovalKind,
    Decision,
    Mechanism,
    ProcessorSettings,
    Reason,
    TransferFacts,
    TransferRequest,
)
from onshore.transfer.policy import TransferPolicy, transfer_policy

PI_OVER_100K = "important/pi-over-100k"


def approval_expiry(approval: Approval, policy: TransferPolicy) -> dt.date:
    """When an approval lapses: as recorded, else (security assessments) 3 years after issue."""
    if approval.expires is not None:
        return approval.expires
    if approval.kind == "security_assessment":
        years = policy.approvals.security_assessment_valid_years
        try:
            return approval.issued.replace(year=approval.issued.year + years)
        except ValueError:  # 29 February
            return approval.issued.replace(year=approval.issued.year + years, day=28)
    return dt.date.max


def scope_problem(
    approval: Approval,
    request: TransferRequest,
    facts: TransferFacts,
    policy: TransferPolicy,
    today: dt.date,
    *,
    check_volume: bool,
) -> str | None:
    """Why ``approval`` does not cover this transfer, or None when it does."""
    if approval.issued > today:
        return f"{approval.id} is not in force before {approval.issued}"
    expiry = approval_expiry(approval, policy)
    if today >= expiry:
        return f"{approval.id} expired on {expiry}"
    if approval.recipient is not None and approval.recipient.casefold() != (
        request.recipient.name.casefold()
    ):
        return (
            f"{approval.id} covers recipient {approval.recipient!r}, not {request.recipient.name!r}"
        )
    if approval.purpose is not None and approval.purpose.casefold() != request.purpose.casefold():
        return f"{approval.id} covers purpose {approval.purpose!r}, not {request.purpose!r}"
    if approval.categories:
        outside = sorted(set(facts.categories) - set(approval.categories))
        if outside:
            return f"{approval.id} does not cover categories {', '.join(outside)}"
    if (
        check_volume
        and approval.max_individuals is not None
        and facts.group_individuals > approval.max_individuals
    ):
        return (
            f"{approval.id} covers at most {approval.max_individuals:,} individuals; this "
            f"recipient and purpose would reach {facts.group_individuals:,} this year"
        )
    return None


def _find(
    kinds: Sequence[ApprovalKind],
    approvals: Sequence[Approval],
    request: TransferRequest,
    facts: TransferFacts,
    policy: TransferPolicy,
    today: dt.date,
    *,
    check_volume: bool = True,
) -> tuple[Approval | None, list[str]]:
    problems = []
    for approval in approvals:
        if approval.kind not in kinds:
            continue
        problem = scope_problem(approval, request, facts, policy, today, check_volume=check_volume)
        if problem is None:
            return approval, []
        problems.append(problem)
    return None, problems


def decide_transfer(
    request: TransferRequest,
    facts: TransferFacts,
    approvals: Sequence[Approval],
    settings: ProcessorSettings,
    pack: Pack,
    *,
    today: dt.date,
) -> Decision:
    """Decide a transfer. Pure: everything it needs is passed in.

    >>> import onshore, datetime as dt
    >>> request = TransferRequest.from_mapping({"dataset": "d", "purpose": "p",
    ...     "recipient": {"name": "R", "country": "DE"}})
    >>> facts = TransferFacts(2026, (), ("vehicle.identity.vin",), True, 500, 0, 500, 0, 500)
    >>> decide_transfer(request, facts, [], ProcessorSettings("Acme"), onshore.load_pack(),
    ...                 today=dt.date(2026, 11, 28)).mechanism
    'none_required'
    """
    policy = transfer_policy(pack)
    reasons: list[Reason] = []
    missing: list[str] = []

    def reason(rule: str, ref: object, text: str, **figures: object) -> None:
        reasons.append(Reason(f"{pack.name}/transfer/{rule}", pack.legal_ref(ref), text, figures))

    if request.access_mode == "remote_access":
        reason(
            "remote-access",
            policy.remote_access.ref,
            "remote query or download from abroad of data kept in China counts as export",
        )
    important = [
        r
        for r in facts.important_rules
        if policy.important_data.pi_over_100k_is_important or not r.endswith(PI_OVER_100K)
    ]
    if any(r.endswith(PI_OVER_100K) for r in facts.important_rules):
        read = "is" if policy.important_data.pi_over_100k_is_important else "is not"
        reason(
            "pi-over-100k-reading",
            policy.important_data.ref,
            f"personal information of more than 100,000 individuals {read} treated as "
            "important data for export (pack setting important_data.pi_over_100k_is_important)",
        )
    exemption = request.exemption
    exemption_rule = policy.exemptions.get(exemption) if exemption else None
    mechanism: Mechanism
    approval_kinds: tuple[ApprovalKind, ...] = ()
    check_volume = True

    if important:
        mechanism = "security_assessment"
        if exemption_rule is not None and exemption_rule.applies_to == "important":
            filing, problems = _find(
                ["regulator_filing"],
                approvals,
                request,
                facts,
                policy,
                today,
                check_volume=False,
            )
            if filing is not None:
                mechanism = "none_required"
                reason(
                    f"exemption/{exemption}",
                    exemption_rule.ref,
                    f"important data exported under the {exemption} exemption with regulator "
                    f"filing {filing.id} on record",
                    filing=filing.id,
                )
                approvals = [filing]
            else:
                reason(
                    f"exemption/{exemption}",
                    exemption_rule.ref,
                    f"the {exemption} exemption needs a prior regulator filing, and none on "
                    "record covers this transfer",
                    problems=problems,
                )
                missing.append(f"a regulator filing for the {exemption} exemption")
        if mechanism == "security_assessment":
            reason(
                "important-data",
                policy.important_data.ref,
                "important data leaves China only after a CAC security assessment",
                rules=important,
            )
            approval_kinds = ("security_assessment",)
    elif settings.ciio and facts.has_personal:
        mechanism = "security_assessment"
        reason(
            "ciio",
            policy.ciio.ref,
            f"{settings.legal_entity} is a critical information infrastructure operator "
            "exporting personal information",
        )
        approval_kinds = ("security_assessment",)
    elif (
        facts.has_personal
        and exemption_rule is not None
        and (exemption_rule.applies_to == "personal")
    ):
        mechanism = "none_required"
        reason(
            f"exemption/{exemption}",
            exemption_rule.ref,
            f"exemption claimed: {exemption} (recorded with the decision)",
            claim=exemption,
        )
    elif facts.has_personal:
        tiers = policy.tiers
        ns, s = facts.cumulative_non_sensitive, facts.cumulative_sensitive
        figures = {"cumulative_non_sensitive": ns, "cumulative_sensitive": s, "year": facts.year}
        sa, sc = tiers.security_assessment, tiers.standard_contract_or_certification
        if _reaches(ns, sa.non_sensitive_gte) or _reaches(s, sa.sensitive_gte):
            mechanism = "security_assessment"
            reason(
                "volume/security-assessment",
                sa.ref,
                f"since 1 January: {ns:,} individuals' personal information (threshold "
                f"{sa.non_sensitive_gte:,}) or {s:,} individuals' sensitive personal "
                f"information (threshold {sa.sensitive_gte:,})",
                **figures,
            )
            approval_kinds = ("security_assessment",)
        elif _reaches(ns, sc.non_sensitive_gte) or _reaches(s, sc.sensitive_gte):
            mechanism = "standard_contract_or_certification"
            reason(
                "volume/standard-contract",
                sc.ref,
                f"since 1 January: {ns:,} individuals' personal information (from "
                f"{sc.non_sensitive_gte:,}) or {s:,} with sensitive personal information "
                f"(from {sc.sensitive_gte:,})",
                **figures,
            )
            approval_kinds = ("standard_contract", "certification")
            check_volume = False
        else:
            mechanism = "none_required"
            reason(
                "volume/exempt",
                tiers.none_required.ref,
                f"since 1 January: {ns:,} individuals' personal information, none sensitive, "
                f"below {sc.non_sensitive_gte:,}",
                **figures,
            )
        if exemption_rule is not None:
            reason(
                f"exemption/{exemption}",
                exemption_rule.ref,
                f"the {exemption} exemption does not apply to this data",
            )
    else:
        mechanism = "none_required"
        reason(
            "no-personal-data",
            policy.tiers.none_required.ref,
            "neither personal information nor important data",
        )

    approval_used = None
    if approval_kinds:
        found, problems = _find(
            approval_kinds, approvals, request, facts, policy, today, check_volume=check_volume
        )
        if found is not None:
            approval_used = found.id
        else:
            wanted = " or ".join(k.replace("_", " ") for k in approval_kinds)
            detail = f" ({'; '.join(problems)})" if problems else ""
            missing.append(
                f"a {wanted} covering recipient {request.recipient.name!r}, purpose "
                f"{request.purpose!r}, categories {', '.join(facts.categories) or '-'}{detail}"
            )

    mapping_used = None
    surveying = [
        c
        for c in facts.categories
        if any(pack.is_within(c, root) for root in policy.surveying.categories)
    ]
    if surveying:
        found, problems = _find(
            ["mapping_approval"], approvals, request, facts, policy, today, check_volume=False
        )
        reason(
            "surveying",
            policy.surveying.ref,
            "surveying data also needs a mapping approval (map review or external provision)",
            categories=surveying,
        )
        if found is not None:
            mapping_used = found.id
        else:
            detail = f" ({'; '.join(problems)})" if problems else ""
            missing.append(f"a mapping approval for {', '.join(surveying)}{detail}")

    return Decision(
        mechanism=mechanism,
        allowed=not missing,
        missing=tuple(missing),
        reasons=tuple(reasons),
        counts={
            "individuals": facts.individuals,
            "sensitive_individuals": facts.sensitive_individuals,
            "cumulative_non_sensitive": facts.cumulative_non_sensitive,
            "cumulative_sensitive": facts.cumulative_sensitive,
            "recipient_purpose_individuals": facts.group_individuals,
        },
        approval_used=approval_used,
        mapping_approval_used=mapping_used,
    )


def _reaches(value: int, threshold: int | None) -> bool:
    return threshold is not None and value >= threshold
