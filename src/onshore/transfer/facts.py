"""What the gate must know about a dataset: classified for real, never as declared.

``dataset_facts`` classifies the (already desensitized) batches and returns the important-data
rules that fired, the categories present, and every individual with whether any of their
records is sensitive. Individuals are named by the pack's subject keys, row by row: a person
identifier where the row has one, else the VIN (or the pack's other vehicle keys) as the
owner's. A table whose person identifier is null in some rows (a vehicle's rows gathered from
several datasets) thus counts the owners of those rows too.
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
    # columns: subject (string), sensitive (bool), non_sensitive (bool), one row per individual:
    # whether any of their rows held sensitive PI, and whether any held other PI
    subjects: pa.Table


PERSON_FIRST = (
    "person.identity.account_id",
    "person.identity.id_number",
    "person.contact.phone",
    "person.identity.pseudonym",
    "person.identity.name",
)


def individual_column(schema: pa.Schema, pack: Pack) -> str | None:
    """The first person-identifier column, in the order of ``PERSON_FIRST``, or None."""
    persons = _person_columns(schema, pack)
    return persons[0] if persons else None


def _person_columns(schema: pa.Schema, pack: Pack) -> list[str]:
    labels = [pack.resolve_field(n) for n in schema.names]
    return [label.name for c in PERSON_FIRST for label in labels if label.category == c]


def individual_columns(schema: pa.Schema, pack: Pack) -> list[str]:
    """The columns that may name a row's individual, first choice first: person identifiers
    (``PERSON_FIRST``), then the pack's vehicle subject keys (the VIN first) for the owner."""
    labels = [pack.resolve_field(n) for n in schema.names]
    owner = [
        label.name
        for c in pack.header.settings.subject_categories
        if not c.startswith("person.")
        for label in labels
        if label.category == c
    ]
    return _person_columns(schema, pack) + owner


def row_individuals(batch: pa.RecordBatch, columns: list[str]) -> pa.Array:
    """Each row's individual: the first of ``columns`` that is not null there (as strings)."""
    if not columns:
        return pa.nulls(batch.num_rows, pa.string())
    values = [pc.cast(batch.column(c), pa.string()) for c in columns]
    return values[0] if len(values) == 1 else pc.coalesce(*values)


def dataset_facts(
    batches: Iterable[pa.RecordBatch],
    pack: Pack,
    areas: object | None = None,
    *,
    subject: str | None = None,
    natural_persons: int | None = None,
) -> DatasetFacts:
    """Classify ``batches`` and gather what the gate needs, batch by batch.

    ``natural_persons``: the number of people the data is about when counted before
    desensitization (the dataset rules, "more than 100,000", count people, not pseudonyms).
    """
    stream = iter(batches)
    first = next(stream, None)
    chosen = subject
    if first is not None and chosen is None:
        chosen = individual_column(first.schema, pack)
    classifier = Classifier(pack, areas, subject=chosen)  # type: ignore[arg-type]
    batches = itertools.chain([first], stream) if first is not None else []
    parts: list[pa.Table] = []
    important_categories: set[str] = set()
    for batch in batches:
        result = classifier.classify_batch(batch)
        keys = [subject] if subject is not None else individual_columns(result.data.schema, pack)
        if not keys or result.data.num_rows == 0:
            continue
        level = result.labels.column(0).indices.to_numpy(zero_copy_only=False)
        ids = row_individuals(result.data, keys)
        table = pa.table(
            {
                "subject": ids,
                "sensitive": pa.array(level >= int(Level.SENSITIVE_PERSONAL)),
                "non_sensitive": _non_sensitive_rows(result.data, pack),
            }
        ).filter(pc.and_(pc.is_valid(ids), pa.array(level >= int(Level.PERSONAL))))
        parts.append(_by_subject(table))
    subjects = _merge(parts)
    # the dataset rules (more than 100,000 individuals) count the same individuals, or the
    # natural persons counted before desensitization
    people = subjects.num_rows if natural_persons is None else natural_persons
    assessment = classifier.assessment(distinct_subjects=people)
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


def _non_sensitive_rows(batch: pa.RecordBatch, pack: Pack) -> pa.Array:
    """True for rows holding personal information that is not sensitive (an identifier, a
    phone number, driving behaviour; an unknown field counts as personal)."""
    mask = pa.array([False] * batch.num_rows)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not name.startswith("onshore_") and pack.resolve_field(name).level == Level.PERSONAL:
            mask = pc.or_(mask, pc.is_valid(column))
    return mask


def _by_subject(table: pa.Table) -> pa.Table:
    return (
        table.group_by("subject")
        .aggregate([("sensitive", "max"), ("non_sensitive", "max")])
        .rename_columns(["subject", "sensitive", "non_sensitive"])
    )


def _merge(parts: list[pa.Table]) -> pa.Table:
    if not parts:
        return pa.table(
            {
                "subject": pa.array([], pa.string()),
                "sensitive": pa.array([], pa.bool_()),
                "non_sensitive": pa.array([], pa.bool_()),
            }
        )
    return _by_subject(pa.concat_tables(parts))
