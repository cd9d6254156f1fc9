"""Which column plays which part: resolved once per schema, reused for every batch."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from onshore.errors import BadInput
from onshore.model import FieldLabel
from onshore.packs import Pack

LABEL_COLUMNS = ("onshore_level", "onshore_reasons", "onshore_area", "onshore_areas")


@dataclass(frozen=True)
class FieldPlan:
    """The pack's label for every column, and the columns that carry each role."""

    fields: tuple[FieldLabel, ...]
    vin: str | None
    ts: str | None
    lat: str | None
    lon: str | None
    crs: str | None
    subject: str | None

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.category is None)

    def label(self, name: str) -> FieldLabel:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def build_plan(
    schema: pa.Schema, pack: Pack, *, subject: str | None = None, source: str | None = None
) -> FieldPlan:
    """Resolve every column of ``schema`` against ``pack``.

    ``subject`` names the column that identifies a data subject when it is not a VIN (a user id,
    a phone); an unknown column named so is labelled ``person.identity.account_id``.
    """
    clash = [n for n in schema.names if n in LABEL_COLUMNS]
    if clash:
        raise BadInput(
            "input already has Onshore label columns; scan the original data",
            file=source,
            field=clash[0],
        )
    if subject is not None and subject not in schema.names:
        raise BadInput(
            f"--subject column not in the input (columns: {', '.join(schema.names)})",
            file=source,
            field=subject,
        )
    labels: list[FieldLabel] = []
    for name in schema.names:
        label = pack.resolve_field(name)
        if name == subject and label.category is None:
            category = "person.identity.account_id"
            label = FieldLabel(
                name=name,
                category=category,
                level=pack.level_of(category),
                role="subject",
                matched_by="subject option",
            )
        labels.append(label)

    def first(role: str) -> str | None:
        return next((f.name for f in labels if f.role == role), None)

    chosen_subject = subject
    if chosen_subject is None:
        for category in pack.header.settings.subject_categories:
            chosen_subject = next((f.name for f in labels if f.category == category), None)
            if chosen_subject is not None:
                break
    return FieldPlan(
        fields=tuple(labels),
        vin=first("vin"),
        ts=first("timestamp"),
        lat=first("latitude"),
        lon=first("longitude"),
        crs=first("crs"),
        subject=chosen_subject,
    )
