"""Frozen result types shared by every stage: levels, legal references, findings, assessments."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Protection level of a field, a record or a dataset, in increasing order."""

    GENERAL = 0
    PERSONAL = 1
    SENSITIVE_PERSONAL = 2
    IMPORTANT = 3

    @property
    def label(self) -> str:
        """The level's name as written in packs, JSON and Arrow: ``sensitive_personal``."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | Level) -> Level:
        """Accept ``"personal"``, ``"PERSONAL"``, ``1`` or a ``Level``.

        >>> Level.parse("sensitive_personal") > Level.PERSONAL
        True
        """
        if isinstance(value, Level):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(m.label for m in cls)
            raise ValueError(f"unknown level {value!r} (one of: {names})") from None


LEVEL_LABELS: tuple[str, ...] = tuple(m.label for m in Level)


@dataclass(frozen=True)
class LegalRef:
    """Where a rule comes from: an instrument of the pack, an article, and our confidence."""

    instrument: str
    article: str
    title: str = ""
    confidence: str = "S"
    note: str = ""

    def __str__(self) -> str:
        name = self.title or self.instrument
        return f"{name}, {self.article}"


@dataclass(frozen=True)
class Finding:
    """One rule that fired: its id, the level it sets, why, and how often."""

    rule_id: str
    level: Level
    ref: LegalRef
    description: str
    count: int = 0
    figures: dict[str, Any] = dc_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "level": self.level.label,
            "ref": asdict(self.ref) | {"text": str(self.ref)},
            "description": self.description,
            "count": self.count,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class FieldLabel:
    """A column of the input, the category the pack gives it, and that category's level."""

    name: str
    category: str | None
    level: Level
    role: str | None = None
    matched_by: str = ""  # "name", "pattern:<regex>", "subject option" or "" when unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "level": self.level.label,
            "role": self.role,
            "matched_by": self.matched_by,
        }


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be classified: where it was and what was wrong with it."""

    row: int
    field: str | None
    error: str
    record: dict[str, Any] = dc_field(default_factory=dict)
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "field": self.field, "error": self.error}
        if self.line is not None:
            out["line"] = self.line
        out["record"] = self.record
        return out


@dataclass(frozen=True)
class Assessment:
    """What a whole dataset is: its level, what it holds, and every rule that fired."""

    level: Level
    rows: int
    rows_quarantined: int
    subject_field: str | None
    distinct_subjects: int
    distinct_vehicles: int | None
    rows_per_level: dict[str, int]
    rows_per_category: dict[str, int]
    fields: tuple[FieldLabel, ...]
    unknown_fields: tuple[str, ...]
    record_findings: tuple[Finding, ...]
    dataset_findings: tuple[Finding, ...]
    areas_hit: dict[str, int]
    pack: str
    source: str | None = None
    areas_source: str | None = None
    areas_count: int = 0
    warnings: tuple[str, ...] = ()
    rows_in_areas: int = 0
    """Rows in or near at least one area, each counted once (``areas_hit`` counts a row in
    each of its areas, so its sum may be larger where areas overlap)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pack": self.pack,
            "areas": {"source": self.areas_source, "count": self.areas_count},
            "level": self.level.label,
            "rows": self.rows,
            "rows_quarantined": self.rows_quarantined,
            "subject_field": self.subject_field,
            "distinct_subjects": self.distinct_subjects,
            "distinct_vehicles": self.distinct_vehicles,
            "rows_per_level": self.rows_per_level,
            "rows_per_category": self.rows_per_category,
            "fields": [f.to_dict() for f in self.fields],
            "unknown_fields": list(self.unknown_fields),
            "record_rules": [f.to_dict() for f in self.record_findings],
            "dataset_rules": [f.to_dict() for f in self.dataset_findings],
            "areas_hit": self.areas_hit,
            "rows_in_areas": self.rows_in_areas,
            "warnings": list(self.warnings),
        }
