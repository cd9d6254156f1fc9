"""Typed models of a policy pack. Every file of a pack is validated by one of these at load time."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onshore.model import LegalRef

KEY_RE = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
RULE_ID_RE = r"^[a-z0-9-]+(/[a-z0-9._-]+)+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LevelName = Literal["general", "personal", "sensitive_personal", "important"]


class Ref(_Strict):
    """A legal reference: an instrument declared in ``pack.yaml`` and an article."""

    instrument: str
    article: str
    confidence: Literal["C", "S", "U"] = "S"
    note: str = ""


class Instrument(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    title: str
    title_zh: str = ""
    number: str = ""
    effective: str = ""
    url: str = ""


class Settings(_Strict):
    """Pack-wide choices that are policy, not code."""

    unknown_field_level: LevelName = "personal"
    vin_check_digit: Literal["reject", "warn", "ignore"] = "warn"
    subject_categories: list[str] = Field(min_length=1)
    #: the subject categories that name a natural person (an account, a phone); the others
    #: name a vehicle. Consents, subject requests and the consent gate key on either kind.
    person_subject_categories: list[str] = Field(default_factory=list)
    vehicle_category: str = "vehicle.identity.vin"


class PackHeader(_Strict):
    name: str
    version: str
    description: str = ""
    jurisdiction: str = "CN"
    instruments: list[Instrument] = Field(min_length=1)
    settings: Settings


class Category(_Strict):
    key: Annotated[str, Field(pattern=KEY_RE)]
    parent: str | None = None
    level: LevelName
    description: str
    ref: Ref
    since: str = ""
    deprecated: bool = False
    replaced_by: str | None = None


class Taxonomy(_Strict):
    categories: list[Category] = Field(min_length=1)


Role = Literal["vin", "timestamp", "latitude", "longitude", "crs", "subject"]


class FieldMapping(_Strict):
    """Names (case-insensitive, exact) or one regular expression, mapped to a category."""

    names: list[str] = Field(default_factory=list)
    pattern: str | None = None
    category: str
    role: Role | None = None
    note: str = ""

    @model_validator(mode="after")
    def _names_or_pattern(self) -> FieldMapping:
        if bool(self.names) == bool(self.pattern):
            raise ValueError("give exactly one of 'names' or 'pattern'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return self


class FieldMap(_Strict):
    fields: list[FieldMapping] = Field(min_length=1)


class AreaKind(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    buffer_m: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    description: str
    ref: Ref


class AreaKinds(_Strict):
    area_kinds: list[AreaKind] = Field(min_length=1)


class Threshold(_Strict):
    """A numeric test; ``gt`` is strict (超过), ``gte`` inclusive (以上)."""

    gt: int | None = None
    gte: int | None = None

    @model_validator(mode="after")
    def _one(self) -> Threshold:
        if (self.gt is None) == (self.gte is None):
            raise ValueError("give exactly one of 'gt' or 'gte'")
        return self

    def holds(self, value: int) -> bool:
        if self.gt is not None:
            return value > self.gt
        assert self.gte is not None
        return value >= self.gte

    def describe(self) -> str:
        return f"> {self.gt}" if self.gt is not None else f">= {self.gte}"


class RecordCondition(_Strict):
    """All the given conditions must hold for a record (row)."""

    in_area_kind: list[str] | None = None
    categories_any: list[str] | None = None
    positive_any: list[str] | None = None
    missing_all: list[str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> RecordCondition:
        if not any(v for v in self.model_dump().values()):
            raise ValueError("a record rule needs at least one condition")
        return self


class RecordRule(_Strict):
    id: Annotated[str, Field(pattern=RULE_ID_RE)]
    level: LevelName
    description: str
    ref: Ref
    when: RecordCondition


class DatasetCondition(_Strict):
    """All the given conditions must hold for the dataset as a whole."""

    distinct_subjects: Threshold | None = None
    any_level_at_least: LevelName | None = None
    categories_any: list[str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> DatasetCondition:
        if not any(v for v in self.model_dump().values()):
            raise ValueError("a dataset rule needs at least one condition")
        return self


class DatasetRule(_Strict):
    id: Annotated[str, Field(pattern=RULE_ID_RE)]
    level: LevelName
    description: str
    ref: Ref
    when: DatasetCondition


class Rules(_Strict):
    record_rules: list[RecordRule] = Field(default_factory=list)
    dataset_rules: list[DatasetRule] = Field(default_factory=list)

    @field_validator("record_rules", "dataset_rules")
    @classmethod
    def _unique_ids(cls, rules: list[RecordRule] | list[DatasetRule]) -> list:  # type: ignore[type-arg]
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return rules


def to_legal_ref(ref: Ref, instruments: dict[str, Instrument]) -> LegalRef:
    instrument = instruments[ref.instrument]
    return LegalRef(
        instrument=ref.instrument,
        article=ref.article,
        title=instrument.title,
        confidence=ref.confidence,
        note=ref.note,
    )
