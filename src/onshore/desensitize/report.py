"""The result objects of a desensitization run: the promise check and the risk report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onshore.desensitize.kanon import KAnonymity
from onshore.desensitize.operators.base import OperatorReport
from onshore.desensitize.risk import UnicityFigure
from onshore.model import Assessment, Level
from onshore.packs import Pack
from onshore.packs.profiles import Promise


@dataclass(frozen=True)
class PromiseCheck:
    """The profile's promise against the re-classification of its output."""

    level: Level
    found: Level
    forbidden_found: tuple[str, ...]

    @property
    def kept(self) -> bool:
        return self.found <= self.level and not self.forbidden_found

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "level": self.level.label,
            "found": self.found.label,
            "forbidden_found": list(self.forbidden_found),
        }


def check_promise(promise: Promise, after: Assessment, pack: Pack) -> PromiseCheck:
    """Compare the output's assessment with what the profile promised."""
    present = [c for c, n in after.rows_per_category.items() if n and c in pack.categories]
    fired = {f.rule_id for f in (*after.record_findings, *after.dataset_findings)}
    forbidden = []
    for key in promise.forbid:
        if key in fired or any(pack.is_within(c, key) for c in present if key in pack.categories):
            forbidden.append(key)
    return PromiseCheck(Level.parse(promise.level), after.level, tuple(forbidden))


@dataclass(frozen=True)
class RiskReport:
    """What a run did and how much risk is left: before and after, as figures and as JSON."""

    profile: str
    pack: str
    promise: PromiseCheck
    rows_in: int
    rows_out: int
    rows_quarantined: int
    before: Assessment
    after: Assessment
    unicity: dict[str, Any]
    unicity_before: tuple[UnicityFigure, ...]
    unicity_after: tuple[UnicityFigure, ...]
    kanon_before: KAnonymity
    kanon_after: KAnonymity
    operators: tuple[OperatorReport, ...]
    key_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def unicity_at(self, p: int) -> tuple[float | None, float | None]:
        """Unicity at ``p`` points, before and after."""
        before = next((u.unicity for u in self.unicity_before if u.p == p), None)
        after = next((u.unicity for u in self.unicity_after if u.p == p), None)
        return before, after

    def to_dict(self) -> dict[str, Any]:
        def level_summary(a: Assessment) -> dict[str, Any]:
            return {
                "level": a.level.label,
                "rows": a.rows,
                "rows_per_level": a.rows_per_level,
                "distinct_subjects": a.distinct_subjects,
                "categories": {k: v for k, v in a.rows_per_category.items() if v},
                "reasons": sorted({f.rule_id for f in (*a.record_findings, *a.dataset_findings)}),
                "unknown_fields": list(a.unknown_fields),
            }

        return {
            "profile": self.profile,
            "pack": self.pack,
            "promise": self.promise.to_dict(),
            "rows": {
                "in": self.rows_in,
                "out": self.rows_out,
                "quarantined": self.rows_quarantined,
            },
            "key_ids": list(self.key_ids),
            "operators": [o.to_dict() for o in self.operators],
            "risk": {
                "classification": {
                    "before": level_summary(self.before),
                    "after": level_summary(self.after),
                    "after_assessment": self.after.to_dict(),
                },
                "unicity": {
                    "method": "de Montjoye et al. 2013, 'Unique in the Crowd'",
                    **self.unicity,
                    "before": [u.to_dict() for u in self.unicity_before],
                    "after": [u.to_dict() for u in self.unicity_after],
                },
                "k_anonymity": {
                    "before": self.kanon_before.to_dict(),
                    "after": self.kanon_after.to_dict(),
                },
            },
            "warnings": list(self.warnings),
        }
