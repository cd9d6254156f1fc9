"""The transfer gate's decision: which legal mechanism applies, and whether it is satisfied.

Rules, in the order they apply (regulation.md §3; every threshold lives in ``transfer.yaml``):

1. important data → security assessment, unless the vulnerability/incident/OTA exemption is
   claimed with a regulator filing on record. Personal information of more than 100,000
   natural persons (per processor and year, across datasets) is important data or not as the
   pack's ``pi_over_100k_is_important`` reading says; the decision states which reading applied
   and what the other gives (:attr:`Decision.reading`);
2. an exemption for personal data (contract, HR, emergency, foreign origin) → none required,
   for CIIOs too (2024 Provisions Arts. 4, 5(1)-(3));
3. a critical information infrastructure operator exporting personal data → security
   assessment (only the under-100,000 exemption, Art. 5(4), excludes CIIOs);
4. cumulative individuals since 1 January → security assessment / standard contract or
   certification / none required;
5. no personal and no important data → none required.

Whatever the mechanism, an export of personal information also needs (PIPL, not waived by the
2024 exemptions) the persons' separate consent or another documented basis (Art. 39) and an
impact-assessment reference (Art. 55(4)). Surveying data additionally needs a mapping approval
on record. An approval is valid through the last day of its period (Civil Code Arts. 201-202);
a certification for 3 years, and only for non-CIIOs without important data (Order No. 20).
The decision is a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

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
    """The last day an approval is valid: as recorded, else (security assessments and
    certifications) the corresponding day of the year its period ends in.

    Civil Code Arts. 201-202: the day a period starts is not counted and a period in years ends
    at the end of the corresponding day, so an assessment issued 2026-01-05 for 3 years is
    valid through 2029-01-05 (a period starting 29 February ends on 28 February).

    >>> import onshore
    >>> policy = transfer_policy(onshore.load_pack())
    >>> approval_expiry(Approval("SA", "security_assessment", dt.date(2026, 1, 5)), policy)
    datetime.date(2029, 1, 5)
    """
    if approval.expires is not None:
        return approval.expires
    years: int | None = None
    if approval.kind == "security_assessment":
        years = policy.approvals.security_assessment_valid_years
    elif approval.kind == "certification":
        years = policy.approvals.certification_valid_years
    if years is None:
        return dt.date.max
    try:
        return approval.issued.replace(year=approval.issued.year + years)
    except ValueError:  # 29 February: the period ends on the month's last day
        return approval.issued.replace(year=approval.issued.year + years, day=28)


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
    if today > expiry:
        return f"{approval.id} was valid through {expiry} and has expired"
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
    ...     "recipient": {"name": "R", "country": "DE"}, "impact_assessment": "PIPIA-1"})
    >>> facts = TransferFacts(2026, (), ("vehicle.identity.vin",), True, 500, 0, 500, 0, 500,
    ...                       without_outbound_consent=0)
    >>> d = decide_transfer(request, facts, [], ProcessorSettings("Acme"), onshore.load_pack(),
    ...                     today=dt.date(2026, 11, 28))
    >>> d.mechanism, d.allowed
    ('none_required', True)
    """
    policy = transfer_policy(pack)
    reading = policy.important_data.pi_over_100k_is_important
    decision = _decide(request, facts, approvals, settings, pack, policy, today, reading)
    if not facts.has_personal:
        return decision
    other = _decide(request, facts, approvals, settings, pack, policy, today, not reading)
    important = policy.important_data
    over = _pi_over_100k(facts, policy)
    figures: dict[str, object] = {
        "setting": "important_data.pi_over_100k_is_important",
        "value": reading,
        "individuals_this_year": facts.year_individuals,
        "threshold_gt": important.pi_over_100k_gt,
        "over": over,
        "counted": "per processor and calendar year, across all datasets exported",
        "this_reading": {"mechanism": decision.mechanism, "allowed": decision.allowed},
        "other_reading": {"mechanism": other.mechanism, "allowed": other.allowed},
    }
    this_name = "Provisions 2021 Art. 3(5)" if reading else "2024 Provisions Art. 2"
    other_name = "2024 Provisions Art. 2" if reading else "Provisions 2021 Art. 3(5)"
    ref = important.pi_over_100k_ref if reading else important.not_notified_ref
    verdict = "allowed" if other.allowed else "refused"
    text = (
        f"{facts.year_individuals:,} individuals' personal information exported this year "
        f"({'more than' if over else 'not more than'} {important.pi_over_100k_gt:,}); read under "
        f"{this_name} (PI of more than 100,000 people {'is' if reading else 'is not'} important "
        f"data): {decision.mechanism}; under {other_name} it would be {other.mechanism}, "
        f"{verdict}"
    )
    reason = Reason(
        f"{pack.name}/transfer/pi-over-100k-reading",
        pack.legal_ref(ref or important.ref),
        text,
        figures,
    )
    return replace(decision, reasons=(*decision.reasons, reason), reading=figures)


def _pi_over_100k(facts: TransferFacts, policy: TransferPolicy) -> bool:
    """More than 100,000 natural persons' PI: this year, by this processor, across datasets
    (or one dataset that alone has more, as the classifier's dataset rule says)."""
    return facts.has_personal and (
        facts.year_individuals > policy.important_data.pi_over_100k_gt
        or any(r.endswith(PI_OVER_100K) for r in facts.important_rules)
    )


def _decide(
    request: TransferRequest,
    facts: TransferFacts,
    approvals: Sequence[Approval],
    settings: ProcessorSettings,
    pack: Pack,
    policy: TransferPolicy,
    today: dt.date,
    pi_important: bool,
) -> Decision:
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
    important = [r for r in facts.important_rules if not r.endswith(PI_OVER_100K)]
    if pi_important and _pi_over_100k(facts, policy):
        important.append(f"{pack.name}/important/pi-over-100k")
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
    elif (
        facts.has_personal
        and exemption_rule is not None
        and (exemption_rule.applies_to == "personal")
    ):
        # Arts. 4 and 5(1)-(3) cover CIIOs too; only Art. 5(4) excludes them
        mechanism = "none_required"
        reason(
            f"exemption/{exemption}",
            exemption_rule.ref,
            f"exemption claimed: {exemption} (recorded with the decision)"
            + ("; it covers CIIOs too" if settings.ciio else ""),
            claim=exemption,
        )
    elif settings.ciio and facts.has_personal:
        mechanism = "security_assessment"
        reason(
            "ciio",
            policy.ciio.ref,
            f"{settings.legal_entity} is a critical information infrastructure operator "
            "exporting personal information (the under-100,000 exemption excludes CIIOs)",
        )
        approval_kinds = ("security_assessment",)
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
        usable = approvals
        if "certification" in approval_kinds and (settings.ciio or important):
            usable = [a for a in approvals if a.kind != "certification"]
        found, problems = _find(
            approval_kinds, usable, request, facts, policy, today, check_volume=check_volume
        )
        if found is not None:
            approval_used = found.id
            if found.kind == "certification" and policy.approvals.certification_ref is not None:
                reason(
                    "certification",
                    policy.approvals.certification_ref,
                    f"certification {found.id} valid through "
                    f"{approval_expiry(found, policy)} (3 years; non-CIIO, no important data)",
                    certification=found.id,
                )
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

    if facts.has_personal and policy.pipl is not None:
        _pipl_duties(request, facts, policy, pack, reason, missing)

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
            "cumulative_individuals": facts.year_individuals,
            "recipient_purpose_individuals": facts.group_individuals,
            "without_outbound_consent": facts.lacking_outbound_consent,
        },
        approval_used=approval_used,
        mapping_approval_used=mapping_used,
    )


def _pipl_duties(
    request: TransferRequest,
    facts: TransferFacts,
    policy: TransferPolicy,
    pack: Pack,
    reason: Callable[..., None],
    missing: list[str],
) -> None:
    """PIPL Art. 39 (separate consent, or another basis documented) and Art. 55(4) (impact
    assessment) on every export of personal information, exempt or not."""
    pipl = policy.pipl
    assert pipl is not None
    if request.outbound_basis == "separate_consent":
        lacking = facts.lacking_outbound_consent
        reason(
            "pipl/outbound-consent",
            pipl.outbound_consent_ref,
            f"separate consent to this export on record for {facts.individuals - lacking:,} "
            f"of {facts.individuals:,} individuals",
            without=lacking,
        )
        if lacking:
            missing.append(
                f"the separate consent (PIPL Art. 39, purpose {pipl.outbound_consent_purpose!r}) "
                f"of {lacking:,} of {facts.individuals:,} individuals, or a documented basis "
                f"({', '.join(pipl.other_bases)})"
            )
    else:
        note = request.outbound_basis_note.strip()
        allowed = request.outbound_basis in pipl.other_bases
        reason(
            "pipl/outbound-basis",
            pipl.other_bases_ref,
            f"export of personal information on the basis {request.outbound_basis!r}: "
            f"{note or 'not documented'}",
            basis=request.outbound_basis,
        )
        if not allowed or not note:
            missing.append(
                f"the documentation of the basis {request.outbound_basis!r} for exporting "
                "personal information without the persons' separate consent (PIPL Arts. 13, 39)"
            )
    if request.impact_assessment:
        reason(
            "pipl/impact-assessment",
            pipl.impact_assessment_ref,
            f"personal information protection impact assessment {request.impact_assessment}",
            impact_assessment=request.impact_assessment,
        )
    else:
        reason(
            "pipl/impact-assessment",
            pipl.impact_assessment_ref,
            "no personal information protection impact assessment named",
        )
        missing.append(
            "a personal information protection impact assessment reference (PIPL Art. 55(4))"
        )


def _reaches(value: int, threshold: int | None) -> bool:
    return threshold is not None and value >= threshold
