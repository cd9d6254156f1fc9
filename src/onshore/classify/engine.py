"""The vectorized classifier: labels for every row of a batch, an assessment for the whole stream.

Per batch the work is a fixed number of Arrow/NumPy kernels per column and per rule, never a
Python loop per record. A record's level is the highest level among its non-null fields and the
record rules it meets; a dataset's level adds the dataset rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.classify.coerce import to_float64, valid_mask
from onshore.classify.plan import LABEL_COLUMNS, FieldPlan, build_plan
from onshore.classify.validate import CheckedBatch, check_batch
from onshore.model import (
    LEVEL_LABELS,
    Assessment,
    BadRecord,
    Finding,
    Level,
)
from onshore.packs import Pack
from onshore.packs.models import DatasetRule, RecordRule

if TYPE_CHECKING:
    from onshore.geo import AreaCatalogue, AreaIndex
    from onshore.geo.overlaps import AreaMatches

_UNIQUE_COMPACT = 2_000_000


@dataclass(frozen=True)
class BatchResult:
    """One classified batch: the good rows (normalized), their labels, and the bad rows."""

    data: pa.RecordBatch
    labels: pa.RecordBatch
    rows: np.ndarray
    bad: tuple[BadRecord, ...]

    def labelled(self) -> pa.RecordBatch:
        """Input columns, then ``onshore_level``, ``onshore_reasons``, ``onshore_area`` (the
        area that wins), ``onshore_areas`` (every area of the row)."""
        return pa.RecordBatch.from_arrays(
            [*self.data.columns, *self.labels.columns],
            names=[*self.data.schema.names, *self.labels.schema.names],
        )


_LEVEL_NAMES = pa.array(LEVEL_LABELS, type=pa.string())


@dataclass(frozen=True)
class Tally:
    """The additive figures of a classified stream: the tallies of its parts add up to its own.

    Runners that classify parts of one dataset apart (Spark partitions) send these to one place,
    add them with ``+`` and give the sum to :meth:`Classifier.add_tally`; distinct counts are not
    additive and are counted there separately (see :meth:`Classifier.assessment`).
    """

    rows: int = 0
    quarantined: int = 0
    vin_mismatches: int = 0
    levels: tuple[int, ...] = (0,) * len(Level)
    categories: Mapping[str, int] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)
    area_hits: Mapping[int, int] = field(default_factory=dict)  # area position -> rows
    rows_in_areas: int = 0  # rows in any area, once each

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            rows=self.rows + other.rows,
            quarantined=self.quarantined + other.quarantined,
            vin_mismatches=self.vin_mismatches + other.vin_mismatches,
            levels=tuple(a + b for a, b in zip(self.levels, other.levels, strict=True)),
            categories=_add_counts(self.categories, other.categories),
            reasons=_add_counts(self.reasons, other.reasons),
            area_hits=_add_counts(self.area_hits, other.area_hits),
            rows_in_areas=self.rows_in_areas + other.rows_in_areas,
        )


_K = TypeVar("_K")


def _add_counts(a: Mapping[_K, int], b: Mapping[_K, int]) -> dict[_K, int]:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return out


@dataclass(frozen=True)
class _Universe:
    """The reasons a plan can give, in output order, with their levels."""

    ids: list[str]
    levels: np.ndarray
    names: pa.Array
    position: dict[str, int]


class _Distinct:
    """Exact distinct count of string values over a stream, compacting as it grows."""

    def __init__(self) -> None:
        self._parts: list[pa.Array] = []
        self._size = 0

    def add(self, values: pa.Array) -> None:
        values = pc.unique(values.drop_null())
        self._parts.append(values)
        self._size += len(values)
        if self._size > _UNIQUE_COMPACT and len(self._parts) > 1:
            merged = pc.unique(pa.concat_arrays(self._parts))
            self._parts, self._size = [merged], len(merged)

    def count(self) -> int:
        if not self._parts:
            return 0
        return len(pc.unique(pa.concat_arrays(self._parts)))

    def values(self) -> pa.Array | None:
        return pc.unique(pa.concat_arrays(self._parts)) if self._parts else None


class Classifier:
    """Classify a stream of record batches against a pack and a sensitive-area catalogue.

    >>> import pyarrow as pa, onshore
    >>> c = Classifier(onshore.load_pack())
    >>> t = pa.table({"vin": ["LSVAU2180N2183294"], "speed": [42.0]})
    >>> c.classify_batch(t.to_batches()[0]).labels.column(0).to_pylist()
    ['personal']
    >>> c.assessment().level.label
    'personal'
    """

    def __init__(
        self,
        pack: Pack,
        areas: AreaIndex | AreaCatalogue | None = None,
        *,
        subject: str | None = None,
        source: str | None = None,
        crs: str = "wgs84",
    ) -> None:
        if crs not in ("wgs84", "gcj02"):
            raise ValueError(f"crs must be 'wgs84' or 'gcj02', not {crs!r}")
        self.pack = pack
        self.crs = crs
        self.subject = subject
        self.source = source
        self.index = _as_index(areas)
        self._plan: FieldPlan | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._seen = 0
        self._bad = 0
        self._vin_mismatch = 0
        self._levels = np.zeros(len(Level), dtype=np.int64)
        self._categories: dict[str, int] = {}
        self._reasons: dict[str, int] = {}
        self._subjects = _Distinct()
        self._vehicles = _Distinct()
        n_areas = len(self.index.catalogue) if self.index is not None else 0
        self._area_hits = np.zeros(n_areas, dtype=np.int64)
        self._rows_in_areas = 0
        self._warnings: list[str] = []
        self._universes: dict[int, tuple[FieldPlan, _Universe]] = {}
        self._last_counts: dict[str, int] = {}
        if self.index is not None:
            self._area_ids = pa.array(self.index.catalogue.ids(), type=pa.string())
            self._area_kinds = np.asarray(self.index.catalogue.kinds(), dtype=object)

    # -- per batch -----------------------------------------------------------------------------
    def plan_for(self, schema: pa.Schema) -> FieldPlan:
        if self._plan is None or schema != self._schema:
            self._plan = build_plan(schema, self.pack, subject=self.subject, source=self.source)
            self._schema = schema
        return self._plan

    def classify_batch(
        self, batch: pa.RecordBatch, *, rows: np.ndarray | None = None
    ) -> BatchResult:
        """Validate, label and count one batch.

        ``rows`` gives the input record number of each row (for bad-row reports); by default
        numbering continues across calls.
        """
        if rows is None:
            start = self._seen
            rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
        self._seen += batch.num_rows
        plan = self.plan_for(batch.schema)
        checked = check_batch(batch, plan, self.pack, rows=rows)
        labels, level, present, matches = self._label(checked, plan)
        self._count(checked, plan, labels, level, present, matches)
        return BatchResult(checked.batch, labels, checked.rows, checked.bad)

    def _label(
        self, checked: CheckedBatch, plan: FieldPlan
    ) -> tuple[pa.RecordBatch, np.ndarray, dict[str, np.ndarray], AreaMatches | None]:
        batch = checked.batch
        n = batch.num_rows
        present: dict[str, np.ndarray] = {}  # category (or "" for unknown) -> row mask
        for label, column in zip(plan.fields, batch.columns, strict=True):
            key = label.category or ""
            mask = valid_mask(column)
            present[key] = present[key] | mask if key in present else mask

        area = np.full(n, -1, dtype=np.int32)
        matches: AreaMatches | None = None  # every area of each row (areas may overlap)
        if self.index is not None and plan.lat is not None and plan.lon is not None and n:
            lat = to_float64(batch.column(plan.lat))[0].to_numpy(zero_copy_only=False)
            lon = to_float64(batch.column(plan.lon))[0].to_numpy(zero_copy_only=False)
            lon, lat = self._to_wgs84(batch, plan, lon, lat)
            matches = self.index.lookup_all(lon, lat)
            area = np.asarray(matches.match.area, dtype=np.int32)

        # every reason this plan can give, in output order (level desc, then id): the
        # dictionary of onshore_reasons, the same for every batch of the stream
        universe = self._universe(plan)
        masks: dict[int, np.ndarray] = {}
        for key, mask in present.items():
            rid = self.pack.category_rule_id(key) if key else f"{self.pack.name}/unknown-field"
            if rid in universe.position:
                masks[universe.position[rid]] = mask
        for rule in self.pack.record_rules:
            fired = self._record_rule(rule, batch, plan, present, matches)
            if fired is not None and fired.any():
                masks[universe.position[rule.id]] = fired

        level = np.zeros(n, dtype=np.int8)
        columns = sorted(j for j, m in masks.items() if m.any())
        self._last_counts = {universe.ids[j]: int(masks[j].sum()) for j in columns}
        if columns:
            matrix = np.stack([masks[j] for j in columns], axis=1)
            for j in columns:
                np.maximum(level, masks[j].astype(np.int8) * universe.levels[j], out=level)
            offsets = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(matrix.sum(axis=1), out=offsets[1:])
            which = np.asarray(columns, dtype=np.int32)[np.nonzero(matrix)[1]]
        else:
            offsets = np.zeros(n + 1, dtype=np.int32)
            which = np.zeros(0, dtype=np.int32)
        values = pa.DictionaryArray.from_arrays(pa.array(which, type=pa.int32()), universe.names)
        reasons = pa.ListArray.from_arrays(pa.array(offsets), values)
        level_names = pa.DictionaryArray.from_arrays(pa.array(level), _LEVEL_NAMES)
        if self.index is not None:
            area_ids = pa.DictionaryArray.from_arrays(
                pa.array(area, mask=area < 0, type=pa.int32()), self._area_ids
            )
            if matches is not None:
                every = pc.take(self._area_ids, pa.array(matches.areas, pa.int32()))
                all_areas = pa.ListArray.from_arrays(pa.array(matches.offsets()), every)
            else:  # no position columns: no area, checked
                empty = pa.array(np.zeros(n + 1, dtype=np.int32))
                all_areas = pa.ListArray.from_arrays(empty, pa.array([], pa.string()))
        else:
            area_ids = pa.DictionaryArray.from_arrays(
                pa.nulls(n, pa.int32()), pa.array([], pa.string())
            )
            all_areas = pa.nulls(n, pa.list_(pa.string()))
        labels = pa.RecordBatch.from_arrays(
            [level_names, reasons, area_ids, all_areas],
            names=list(LABEL_COLUMNS),
        )
        return labels, level, present, matches

    def _universe(self, plan: FieldPlan) -> _Universe:
        cached = self._universes.get(id(plan))
        if cached is not None and cached[0] is plan:
            return cached[1]
        entries: dict[str, int] = {}
        for label in plan.fields:
            if label.category is not None:
                rid, lvl = self.pack.category_rule_id(label.category), label.level
            else:
                rid = f"{self.pack.name}/unknown-field"
                lvl = Level.parse(self.pack.header.settings.unknown_field_level)
            if lvl > Level.GENERAL:
                entries[rid] = int(lvl)
        for rule in self.pack.record_rules:
            entries[rule.id] = int(Level.parse(rule.level))
        ordered = sorted(entries.items(), key=lambda kv: (-kv[1], kv[0]))
        universe = _Universe(
            ids=[rid for rid, _ in ordered],
            levels=np.asarray([lvl for _, lvl in ordered], dtype=np.int8),
            names=pa.array([rid for rid, _ in ordered], type=pa.string()),
            position={rid: j for j, (rid, _) in enumerate(ordered)},
        )
        self._universes[id(plan)] = (plan, universe)
        return universe

    def _to_wgs84(
        self, batch: pa.RecordBatch, plan: FieldPlan, lon: np.ndarray, lat: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bring GCJ-02 positions (by the ``crs`` column, else the input's declared ``crs``)
        to WGS-84, the system of the area catalogue."""
        if plan.crs is None:
            gcj = np.full(len(lon), self.crs == "gcj02")
        else:
            declared = pc.fill_null(batch.column(plan.crs), self.crs)
            gcj = np.asarray(pc.equal(declared, "gcj02").to_numpy(zero_copy_only=False), dtype=bool)
        if not gcj.any():
            return lon, lat
        from onshore.geo import crs as geo_crs

        lon, lat = lon.copy(), lat.copy()
        lon[gcj], lat[gcj] = geo_crs.gcj02_to_wgs84(lon[gcj], lat[gcj])
        return lon, lat

    def _record_rule(
        self,
        rule: RecordRule,
        batch: pa.RecordBatch,
        plan: FieldPlan,
        present: dict[str, np.ndarray],
        matches: AreaMatches | None,
    ) -> np.ndarray | None:
        n = batch.num_rows
        mask = np.ones(n, dtype=bool)
        when = rule.when
        if when.in_area_kind is not None:
            if self.index is None:
                return None
            kind_ok = (
                np.isin(self._area_kinds, when.in_area_kind)
                if len(self._area_kinds)
                else np.zeros(0, bool)
            )
            # any area of the row counts, not only the one named in onshore_area
            mask &= matches.any_of(kind_ok) if matches is not None else np.zeros(n, bool)
        if when.categories_any is not None:
            mask &= self._any_present(present, when.categories_any, n)
        if when.positive_any is not None:
            positive = np.zeros(n, dtype=bool)
            for label, column in zip(plan.fields, batch.columns, strict=True):
                if label.category and any(
                    self.pack.is_within(label.category, c) for c in when.positive_any
                ):
                    positive |= _positive(column)
            mask &= positive
        if when.missing_all is not None:
            mask &= ~self._any_present(present, when.missing_all, n)
        return mask

    def _any_present(
        self, present: dict[str, np.ndarray], categories: list[str], n: int
    ) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for key, mask in present.items():
            if key and any(self.pack.is_within(key, c) for c in categories):
                out |= mask
        return out

    def _count(
        self,
        checked: CheckedBatch,
        plan: FieldPlan,
        labels: pa.RecordBatch,
        level: np.ndarray,
        present: dict[str, np.ndarray],
        matches: AreaMatches | None,
    ) -> None:
        n = checked.batch.num_rows
        self._rows += n
        self._bad += len(checked.bad)
        self._vin_mismatch += checked.vin_check_digit_mismatches
        self._levels += np.bincount(level, minlength=len(Level))
        for key, mask in present.items():
            name = key or "(unknown)"
            self._categories[name] = self._categories.get(name, 0) + int(mask.sum())
        for rid, count in self._last_counts.items():
            self._reasons[rid] = self._reasons.get(rid, 0) + count
        if len(self._area_hits) and matches is not None:  # a row counts in each of its areas
            self._area_hits += matches.counts(len(self._area_hits))
            self._rows_in_areas += int(np.count_nonzero(matches.match.area >= 0))
        personal = level >= int(Level.PERSONAL)
        if plan.subject is not None and personal.any():
            values = checked.batch.column(plan.subject).filter(pa.array(personal))
            self._subjects.add(pc.cast(values, pa.string()))
        if plan.vin is not None and n:
            self._vehicles.add(checked.batch.column(plan.vin))

    # -- whole stream ------------------------------------------------------------------------
    def add_quarantined(self, count: int) -> None:
        """Count rows an adapter quarantined before they reached the classifier."""
        self._bad += count

    def tally(self) -> Tally:
        """The additive figures counted so far (to be summed with other parts' tallies)."""
        return Tally(
            rows=self._rows,
            quarantined=self._bad,
            vin_mismatches=self._vin_mismatch,
            levels=tuple(int(c) for c in self._levels),
            categories=dict(self._categories),
            reasons=dict(self._reasons),
            area_hits={int(i): int(self._area_hits[i]) for i in np.flatnonzero(self._area_hits)},
            rows_in_areas=self._rows_in_areas,
        )

    def add_tally(self, tally: Tally) -> None:
        """Add the figures of parts classified elsewhere (same pack, areas and schema)."""
        self._rows += tally.rows
        self._bad += tally.quarantined
        self._vin_mismatch += tally.vin_mismatches
        self._levels += np.asarray(tally.levels, dtype=np.int64)
        self._categories = _add_counts(self._categories, tally.categories)
        self._reasons = _add_counts(self._reasons, tally.reasons)
        for i, count in tally.area_hits.items():
            self._area_hits[i] += count
        self._rows_in_areas += tally.rows_in_areas

    def distinct_values(self) -> tuple[pa.Array | None, pa.Array | None]:
        """The distinct subjects (of rows at personal level or above) and vehicles seen so far,
        for runners that merge parts of one dataset classified apart (:meth:`add_distinct`)."""
        return self._subjects.values(), self._vehicles.values()

    def add_distinct(self, subjects: pa.Array | None, vehicles: pa.Array | None) -> None:
        """Add the distinct subjects and vehicles another part counted (exact: a union)."""
        if subjects is not None:
            self._subjects.add(subjects)
        if vehicles is not None:
            self._vehicles.add(vehicles)

    def assessment(
        self, *, distinct_subjects: int | None = None, distinct_vehicles: int | None = None
    ) -> Assessment:
        """The dataset assessment for everything classified so far.

        ``distinct_subjects`` and ``distinct_vehicles`` replace this classifier's own exact
        counts when they were counted elsewhere over the whole dataset (by a runner that merged
        parts with :meth:`add_tally`); the dataset rules are evaluated on the figures given.
        """
        plan = self._plan
        distinct = self._subjects.count() if distinct_subjects is None else distinct_subjects
        if distinct_vehicles is None:
            distinct_vehicles = self._vehicles.count()
        rows_per_level = {LEVEL_LABELS[i]: int(c) for i, c in enumerate(self._levels)}
        top_row_level = max(
            (Level(i) for i, c in enumerate(self._levels) if c), default=Level.GENERAL
        )
        record_findings = []
        for rule in self.pack.record_rules:
            count = self._reasons.get(rule.id, 0)
            if count:
                record_findings.append(self._finding(rule, count, {}))
        dataset_findings = []
        for drule in self.pack.dataset_rules:
            figures = self._dataset_rule(drule, distinct, top_row_level)
            if figures is not None:
                dataset_findings.append(self._finding(drule, 1, figures))
        level = max([top_row_level, *(f.level for f in dataset_findings)])
        warnings = list(self._warnings)
        if self._vin_mismatch:
            warnings.append(
                f"{self._vin_mismatch} rows carry a VIN whose check digit (position 9) is wrong"
            )
        if self.index is None and plan is not None and plan.lat is not None:
            warnings.append(
                "no sensitive-area catalogue given: positions were not checked against areas"
            )
        areas_hit = {}
        if self.index is not None:
            ids = self.index.catalogue.ids()
            areas_hit = {ids[i]: int(self._area_hits[i]) for i in np.flatnonzero(self._area_hits)}
        return Assessment(
            level=level,
            rows=self._rows,
            rows_quarantined=self._bad,
            subject_field=plan.subject if plan else None,
            distinct_subjects=distinct,
            distinct_vehicles=distinct_vehicles if plan and plan.vin else None,
            rows_per_level=rows_per_level,
            rows_per_category=dict(sorted(self._categories.items())),
            fields=plan.fields if plan else (),
            unknown_fields=plan.unknown if plan else (),
            record_findings=tuple(record_findings),
            dataset_findings=tuple(dataset_findings),
            areas_hit=areas_hit,
            pack=f"{self.pack.name}@{self.pack.version}",
            source=self.source,
            areas_source=self.index.catalogue.source if self.index is not None else None,
            areas_count=len(self.index.catalogue) if self.index is not None else 0,
            warnings=tuple(warnings),
            rows_in_areas=self._rows_in_areas,
        )

    def _dataset_rule(
        self, rule: DatasetRule, distinct: int, top: Level
    ) -> dict[str, object] | None:
        when = rule.when
        figures: dict[str, object] = {}
        if when.distinct_subjects is not None:
            if not when.distinct_subjects.holds(distinct):
                return None
            figures["distinct_subjects"] = distinct
            figures["threshold"] = when.distinct_subjects.describe()
        if when.any_level_at_least is not None:
            if top < Level.parse(when.any_level_at_least):
                return None
            figures["highest_row_level"] = top.label
        if when.categories_any is not None:
            rows = {
                key: count
                for key, count in self._categories.items()
                if count
                and key != "(unknown)"
                and any(self.pack.is_within(key, c) for c in when.categories_any)
            }
            if not rows:
                return None
            figures["rows_per_category"] = rows
        return figures

    def _finding(
        self, rule: RecordRule | DatasetRule, count: int, figures: dict[str, object]
    ) -> Finding:
        return Finding(
            rule_id=rule.id,
            level=Level.parse(rule.level),
            ref=self.pack.legal_ref(rule.ref),
            description=rule.description,
            count=count,
            figures=figures,
        )


def _positive(column: pa.Array) -> np.ndarray:
    """True where a detection count or flag says something was found."""
    t = column.type
    if pa.types.is_boolean(t):
        return np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False), dtype=bool)
    values, _bad = to_float64(column)
    arr = values.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        positive: np.ndarray = np.nan_to_num(arr, nan=0.0) > 0
    return positive


def _as_index(areas: AreaIndex | AreaCatalogue | None) -> AreaIndex | None:
    if areas is None:
        return None
    from onshore.geo import AreaCatalogue, AreaIndex

    if isinstance(areas, AreaIndex):
        return areas
    if isinstance(areas, AreaCatalogue):
        return AreaIndex.build(areas)
    raise TypeError(f"areas must be an AreaIndex or an AreaCatalogue, not {type(areas).__name__}")


def classify_batches(
    batches: Iterable[pa.RecordBatch],
    pack: Pack,
    areas: AreaIndex | AreaCatalogue | None = None,
    *,
    subject: str | None = None,
    source: str | None = None,
    crs: str = "wgs84",
) -> tuple[list[BatchResult], Assessment]:
    """Classify every batch and return the results and the assessment (materializes labels)."""
    classifier = Classifier(pack, areas, subject=subject, source=source, crs=crs)
    results = [classifier.classify_batch(b) for b in batches]
    return results, classifier.assessment()
