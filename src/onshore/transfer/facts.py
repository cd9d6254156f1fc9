"""What the gate must know about a dataset: classified for real, never as declared.

``dataset_facts`` classifies the (already desensitized) batches and returns the important-data
rules that fired, the categories present, and every individual with whether any of their
records is sensitive. Individuals are named by the pack's subject keys (a person identifier
where present, else the VIN as the owner's).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from onshore.classify import Classifier
from onshore.model import Assessment, Level
from onshore.packs import Pack


@dataclass(frozen=True)
class DatasetFacts:
    """The classified content of a dataset, as the transfer gate counts it."""

    assessment: Assessment
    important_rules: tuple[str, ...]
    categories: tuple[str, ...]
    has_personal: bool
    subjects: pa.Table  # columns: subject (string), sensitive (bool), one row per individual


PERSON_FIRST = (
    "person.identity.account_id",
    "person.identity.id_number",
    "person.contact.phone",
    "person.identity.pseudonym",
    "person.identity.name",
)


def individual_column(schema: pa.Schema, pack: Pack) -> str | None:
    """The column that names an individual: a person identifier where present, else the
    pack's subject (the VIN, as the owner's)."""
    labels = [pack.resolve_field(n) for n in schema.names]
    for category in PERSON_FIRST:
        for label in labels:
            if label.category == category:
                return label.name
    return None


def dataset_facts(
    batches: Iterable[pa.RecordBatch],
    pack: Pack,
    areas: object | None = None,
    *,
    subject: str | None = None,
) -> DatasetFacts:
    """Classify ``batches`` and gather what the gate needs, batch by batch."""
    stream = iter(batches)
    first = next(stream, None)
    if first is not None and subject is None:
        subject = individual_column(first.schema, pack)
    classifier = Classifier(pack, areas, subject=subject)  # type: ignore[arg-type]
    batches = itertools.chain([first], stream) if first is not None else []
    parts: list[pa.Table] = []
    important_categories: set[str] = set()
    for batch in batches:
        result = classifier.classify_batch(batch)
        plan = classifier.plan_for(batch.schema)
        if plan.subject is None or result.data.num_rows == 0:
            continue
        level = result.labels.column(0).indices.to_numpy(zero_copy_only=False)
        ids = pc.cast(result.data.column(plan.subject), pa.string())
        table = pa.table(
            {
                "subject": ids,
                "sensitive": pa.array(level >= int(Level.SENSITIVE_PERSONAL)),
                "personal": pa.array(level >= int(Level.PERSONAL)),
            }
        ).filter(pc.and_(pc.is_valid(ids), pa.array(level >= int(Level.PERSONAL))))
        parts.append(
            table.group_by("subject")
            .aggregate([("sensitive", "max")])
            .rename_columns(["subject", "sensitive"])
        )
    assessment = classifier.assessment()
    for f in assessment.fields:
        if f.category is not None and f.level >= Level.IMPORTANT:
            important_categories.add(pack.category_rule_id(f.category))
    important = sorted(
        {
            f.rule_id
            for f in (*assessment.record_findings, *assessment.dataset_findings)
            if f.level >= Level.IMPORTANT
        }
        | {
            rid
            for rid in important_categories
            if assessment.rows_per_category.get(rid.rsplit("/", 1)[1], 0)
        }
    )
    categories = tuple(
        sorted(
            key
            for key, rows in assessment.rows_per_category.items()
            if rows and key in pack.categories and pack.level_of(key) >= Level.PERSONAL
        )
    )
    if parts:
        merged = pa.concat_tables(parts)
        subjects = (
            merged.group_by("subject")
            .aggregate([("sensitive", "max")])
            .rename_columns(["subject", "sensitive"])
        )
    else:
        subjects = pa.table(
            {"subject": pa.array([], pa.string()), "sensitive": pa.array([], pa.bool_())}
        )
    # personal information: a present category whose own level is personal or sensitive
    # personal, or an unknown field (treated as personal); important-only categories such as
    # charging-network operation are not personal information by themselves
    personal_levels = (Level.PERSONAL, Level.SENSITIVE_PERSONAL)
    has_personal = any(
        rows
        and (
            key == "(unknown)" or (key in pack.categories and pack.level_of(key) in personal_levels)
        )
        for key, rows in assessment.rows_per_category.items()
    )
    return DatasetFacts(assessment, tuple(important), categories, has_personal, subjects)
