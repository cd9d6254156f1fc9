"""Every rule of a pack with the legal text it implements: for ``onshore pack explain`` and for
``docs/regulation.md`` (generated from the pack, so the two cannot drift).

A rule is anything that shows up as a reason id: a record or dataset rule, a category's level,
a legal basis, the consent rules, the residency rule and the transfer gate's rules.

>>> from onshore.packs import load_pack
>>> info = explain_rule(load_pack(), "cn-auto/transfer/ciio")
>>> info.kind, info.ref.confidence
('transfer', 'C')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from onshore.model import LegalRef
from onshore.packs.loader import Pack
from onshore.packs.models import Ref


@dataclass(frozen=True)
class RuleText:
    """One rule: its id, what kind, what it does, the legal reference it rests on."""

    rule_id: str
    kind: str
    description: str
    ref: LegalRef
    url: str = ""
    level: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "kind": self.kind,
            "description": self.description,
            "level": self.level,
            "ref": {
                "instrument": self.ref.instrument,
                "title": self.ref.title,
                "article": self.ref.article,
                "confidence": self.ref.confidence,
                "note": self.ref.note,
                "url": self.url,
            },
        }


@dataclass(frozen=True)
class Reading:
    """A choice where the law is ambiguous: the setting that holds it and its default."""

    topic: str
    setting: str
    default: str
    chosen: str
    other: str


def _ref(pack: Pack, ref: Ref | None) -> LegalRef | None:
    return None if ref is None else pack.legal_ref(ref)


def all_rules(pack: Pack) -> Iterator[RuleText]:
    """Every rule of ``pack`` in a stable order (rules, categories, bases, transfer)."""
    instruments = pack.instruments

    def make(rule_id: str, kind: str, text: str, ref: Ref | None, level: str = "") -> RuleText:
        legal = pack.legal_ref(ref) if ref is not None else None
        assert legal is not None
        return RuleText(rule_id, kind, text, legal, instruments[legal.instrument].url, level)

    for r in pack.record_rules:
        yield make(r.id, "record rule", r.description, r.ref, r.level)
    for d in pack.dataset_rules:
        yield make(d.id, "dataset rule", d.description, d.ref, d.level)
    for key, cat in pack.categories.items():
        yield make(pack.category_rule_id(key), "category", cat.description, cat.ref, cat.level)
    bases = pack.bases
    if bases is not None:
        for b in bases.bases:
            text = f"{b.basis} for {', '.join(b.purposes)}: {b.description}"
            yield make(b.id, "legal basis", text, b.ref)
        bio = bases.biometric
        yield make(
            bio.rule_id,
            "consent rule",
            f"biometric categories only for {', '.join(bio.purposes)}, necessity recorded",
            bio.ref,
        )
        if bases.sensitive_purpose is not None:
            serving = [p.key for p in bases.purposes if p.serves_person]
            yield make(
                bases.sensitive_purpose.rule_id,
                "consent rule",
                "sensitive personal information rests on consent only for a purpose that serves "
                f"the person ({', '.join(serving)})",
                bases.sensitive_purpose.ref,
            )
        if bases.bystanders is not None:
            yield make(
                bases.bystanders.rule_id,
                "consent rule",
                f"{', '.join(bases.bystanders.categories)} kept only anonymized (anonymizer "
                "sidecar, no residual face or plate); no consent basis",
                bases.bystanders.ref,
            )
    if pack.retention is not None:
        res = pack.retention.residency
        yield make(res.rule_id, "storage rule", res.description, res.ref, res.min_level)
    yield from _transfer_rules(pack, make)


def _transfer_rules(pack: Pack, make: Any) -> Iterator[RuleText]:
    from onshore.transfer.policy import transfer_policy

    if "transfer" not in pack.extra:
        return
    p = transfer_policy(pack)
    t = f"{pack.name}/transfer/"
    sa, sc = p.tiers.security_assessment, p.tiers.standard_contract_or_certification
    rows: list[tuple[str, str, Ref | None]] = [
        (
            "volume/security-assessment",
            f">= {sa.non_sensitive_gte:,} individuals' PI or >= {sa.sensitive_gte:,} individuals' "
            "sensitive PI since 1 January: security assessment",
            sa.ref,
        ),
        (
            "volume/standard-contract",
            f">= {sc.non_sensitive_gte:,} individuals' PI or any sensitive PI: standard contract "
            "or certification",
            sc.ref,
        ),
        (
            "volume/exempt",
            "fewer than the standard-contract threshold: none",
            p.tiers.none_required.ref,
        ),
        ("important-data", "important data: security assessment", p.important_data.ref),
        (
            "pi-over-100k-reading",
            "PI of more than 100,000 people per processor and year: important data or not, as "
            "important_data.pi_over_100k_is_important says; each decision states both readings",
            p.important_data.pi_over_100k_ref or p.important_data.ref,
        ),
        ("ciio", "a CIIO exporting PI without an exemption: security assessment", p.ciio.ref),
        ("remote-access", "remote access from abroad is export", p.remote_access.ref),
        ("surveying", "surveying data also needs a mapping approval", p.surveying.ref),
        (
            "certification",
            f"a certification is valid {p.approvals.certification_valid_years} years; only for "
            "non-CIIOs without important data",
            p.approvals.certification_ref,
        ),
        (
            "approval-validity",
            "approval periods end at the end of the corresponding day",
            p.approvals.period_ref,
        ),
    ]
    for exemption, rule in p.exemptions.items():
        rows.append((f"exemption/{exemption}", f"exemption ({rule.applies_to} data)", rule.ref))
    if p.pipl is not None:
        rows += [
            (
                "pipl/outbound-consent",
                f"each person's separate consent to the export (consent purpose "
                f"{p.pipl.outbound_consent_purpose})",
                p.pipl.outbound_consent_ref,
            ),
            (
                "pipl/outbound-basis",
                f"or a documented basis: {', '.join(p.pipl.other_bases)}",
                p.pipl.other_bases_ref,
            ),
            (
                "pipl/impact-assessment",
                "an impact-assessment reference on every export of PI",
                p.pipl.impact_assessment_ref,
            ),
        ]
    if p.counting.people_with_both_ref is not None:
        rows.append(
            (
                "counting/people-with-both",
                f"a person with both kinds of PI: counted {p.counting.people_with_both}",
                p.counting.people_with_both_ref,
            )
        )
    if p.counting.natural_persons_ref is not None:
        rows.append(
            (
                "counting/natural-persons",
                "natural persons counted before desensitization, never pseudonyms",
                p.counting.natural_persons_ref,
            )
        )
    for name, text, ref in rows:
        if ref is not None:
            yield make(t + name, "transfer", text, ref)


def explain_rule(pack: Pack, rule_id: str) -> RuleText:
    """The rule ``rule_id`` of ``pack``; ``KeyError`` naming close matches when unknown."""
    rules = {r.rule_id: r for r in all_rules(pack)}
    if rule_id in rules:
        return rules[rule_id]
    near = [r for r in rules if rule_id in r][:8]
    hint = f" (did you mean: {', '.join(near)})" if near else ""
    raise KeyError(f"pack {pack.name!r} has no rule {rule_id!r}{hint}")


def readings(pack: Pack) -> list[Reading]:
    """The pack's readings where the law is ambiguous (setting, default, the other reading)."""
    from onshore.transfer.policy import transfer_policy

    out: list[Reading] = []
    if "transfer" in pack.extra:
        p = transfer_policy(pack)
        important = p.important_data.pi_over_100k_is_important
        out.append(
            Reading(
                "Is PI of more than 100,000 people important data for export?",
                "transfer.yaml important_data.pi_over_100k_is_important",
                str(important).lower(),
                "yes: Provisions 2021 Art. 3(5)" if important else "no: 2024 Provisions Art. 2",
                "no: 2024 Provisions Art. 2 (not notified, not important)"
                if important
                else "yes: Provisions 2021 Art. 3(5)",
            )
        )
        out.append(
            Reading(
                "A person with sensitive and other PI: in which totals?",
                "transfer.yaml counting.people_with_both",
                p.counting.people_with_both,
                "both totals" if p.counting.people_with_both == "both" else "sensitive only",
                "sensitive only" if p.counting.people_with_both == "both" else "both totals",
            )
        )
    if pack.bases is not None:
        out.append(
            Reading(
                "Which purposes serve the person (sensitive PI on consent)?",
                "bases.yaml purposes[].serves_person",
                ", ".join(p.key for p in pack.bases.purposes if p.serves_person),
                "Art. 9(1)'s list (driving safety, intelligent driving, navigation) and "
                "after-sales service of the person's own vehicle",
                "Art. 9(1)'s three purposes only",
            )
        )
    out.append(
        Reading(
            "Unknown columns",
            "pack.yaml settings.unknown_field_level",
            pack.header.settings.unknown_field_level,
            "personal until mapped (every signal links to the owner)",
            "general",
        )
    )
    return out


def vectors_for(rule_id: str, roots: Iterable[Path]) -> list[tuple[str, str]]:
    """(file, title) of the test vectors and tests that name ``rule_id`` under ``roots``."""
    found: list[tuple[str, str]] = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            for case in (data or {}).get("cases", []) if isinstance(data, dict) else []:
                if isinstance(case, dict) and rule_id in yaml.safe_dump(case, allow_unicode=True):
                    found.append((str(path), str(case.get("title", ""))))
        for path in sorted(root.rglob("test_*.py")):
            text = path.read_text(encoding="utf-8")
            if f'"{rule_id}"' in text:
                found.append((str(path), "test module naming the rule"))
    return found


BEGIN = "<!-- pack-rules:begin (generated by scripts/regulation_doc.py; do not edit) -->"
END = "<!-- pack-rules:end -->"


HEADINGS = {
    "record rule": "Record rules",
    "dataset rule": "Dataset rules",
    "category": "Categories (the level a field of the category gives its row)",
    "legal basis": "Legal bases (consent gate)",
    "consent rule": "Consent rules",
    "storage rule": "Storage rules",
    "transfer": "Transfer gate",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def regulation_markdown(pack: Pack) -> str:
    """The generated part of ``docs/regulation.md``: readings, then every rule with its text."""
    lines = [BEGIN, "", f"Pack `{pack.name}` version {pack.version}.", ""]
    lines += [
        "### Readings where the law is ambiguous",
        "",
        "| Question | Setting | Default | Reading chosen | The other reading |",
        "|---|---|---|---|---|",
    ]
    for r in readings(pack):
        lines.append(
            f"| {_cell(r.topic)} | `{r.setting}` | `{r.default}` | {_cell(r.chosen)} "
            f"| {_cell(r.other)} |"
        )
    lines += ["", "### Every rule and the text it implements", ""]
    kind = ""
    for rule in all_rules(pack):
        if rule.kind != kind:
            kind = rule.kind
            lines += [
                "",
                f"#### {HEADINGS.get(kind, kind)}",
                "",
                "| Rule | What it does | Text implemented | Conf. |",
                "|---|---|---|---|",
            ]
        ref = rule.ref
        text = f"{ref.title}: {ref.article}" + (f" ({ref.note})" if ref.note else "")
        level = f" [{rule.level}]" if rule.level else ""
        lines.append(
            f"| `{rule.rule_id}` | {_cell(rule.description)}{level} | {_cell(text)} "
            f"| {ref.confidence} |"
        )
    lines += ["", "### Instruments", "", "| Id | Title | Effective | Source |", "|---|---|---|---|"]
    for i in pack.header.instruments:
        title = i.title + (f" ({i.title_zh})" if i.title_zh else "")
        lines.append(f"| `{i.id}` | {_cell(title)} | {i.effective} | {i.url} |")
    lines += ["", END]
    return "\n".join(lines)
