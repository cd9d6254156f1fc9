"""The profile runner: classify the input, apply the steps, measure, re-classify the output.

One :class:`Desensitizer` per stream. ``push`` takes a batch and returns the batches released so
far (stateful steps hold rows back); ``finish`` releases the rest; ``report`` gives the
:class:`~onshore.desensitize.report.RiskReport`. Nothing here reads files, clocks or globals.

A runner over parts of one stream (Spark partitions; rows of one subject in one part when the
profile has ``trips``) runs one Desensitizer per part, ends each with ``finish(part=True)``
(whole-stream steps such as ``aggregate`` keep their state) and sends its :meth:`~Desensitizer.part`
to one place, where a fresh Desensitizer of the same profile ``merge``s them all, then
``finish``es (the whole-stream steps release there) and ``report``s: the figures of one stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.classify import Classifier
from onshore.classify.engine import Tally
from onshore.classify.plan import FieldPlan
from onshore.desensitize.kanon import KAnonMeter
from onshore.desensitize.layout import SUBJECT, Layout
from onshore.desensitize.operators.base import Operator, Resources
from onshore.desensitize.operators.location import (
    Generalize,
    GeneralizeParams,
    RemoveAreas,
    RemoveAreasParams,
    TransformCrs,
)
from onshore.desensitize.registry import build_operator
from onshore.desensitize.report import RiskReport, check_promise
from onshore.desensitize.risk import UnicityMeter
from onshore.errors import BadInput
from onshore.geo.areas import AreaCatalogue
from onshore.geo.crs import gcj02_to_wgs84
from onshore.geo.index import AreaIndex
from onshore.keystore import Key
from onshore.model import BadRecord
from onshore.packs import Pack
from onshore.packs.profiles import Profile


@dataclass(frozen=True)
class RunnerPart:
    """What a :class:`Desensitizer` over one part of a stream counted, measured and holds:
    plain data (no keys, no area index), to be merged where the parts meet."""

    schema: pa.Schema | None  # the input schema it saw (None: it saw no rows)
    out_schema: pa.Schema | None  # the schema of what it released
    before: Tally
    before_distinct: tuple[pa.Array | None, pa.Array | None]
    after: Tally | None
    after_distinct: tuple[pa.Array | None, pa.Array | None]
    unicity: tuple[UnicityMeter, UnicityMeter]
    kanon: tuple[KAnonMeter | None, KAnonMeter | None]
    operators: tuple[dict[str, Any], ...]
    rows_out: int
    warnings: tuple[str, ...]


class Desensitizer:
    """Apply one profile to a stream of record batches.

    >>> import pyarrow as pa, onshore
    >>> pack = onshore.load_pack()
    >>> d = Desensitizer(pack.profile("internal-analytics"), pack,
    ...                  key=onshore.keystore.Key("hmac-sha256", "0" * 16, bytes(32)),
    ...                  areas=onshore.load_areas({"type": "FeatureCollection", "features": []}))
    >>> t = pa.table({"vin": ["LSVAU2180N2183294"], "phone": ["19900001111"]})
    >>> out = d.push(t.to_batches()[0]) + d.finish()
    >>> out[0].schema.names, out[0].column(0)[0].as_py()[:21]
    (['vin_pseudonym'], '0000000000000000:LSV-')
    >>> d.report().promise.kept
    True
    """

    def __init__(
        self,
        profile: Profile,
        pack: Pack,
        *,
        key: Key | None = None,
        areas: AreaCatalogue | AreaIndex | None = None,
        boundaries: AreaCatalogue | None = None,
        subject: str | None = None,
        source: str | None = None,
    ) -> None:
        self.profile = profile
        self.pack = pack
        self.source = source
        catalogue = areas.catalogue if isinstance(areas, AreaIndex) else areas
        index = areas if isinstance(areas, AreaIndex) else None
        if index is None and catalogue is not None:
            index = AreaIndex.build(catalogue)
        self._in = Classifier(pack, index, subject=subject, source=source)
        self._index = index
        self._out: Classifier | None = None
        self._warnings: list[str] = []
        resources = Resources(
            pack, key, catalogue, boundaries, self._guard(), other_fields=profile.other_fields
        )
        self.ops: list[Operator] = [build_operator(step, resources) for step in profile.steps]
        self._add_final_sweep(catalogue)
        self.key_ids = tuple(sorted({key.key_id} if key and self._pseudonymizes() else set()))
        self._plan: FieldPlan | None = None
        self._schema: pa.Schema | None = None
        self._out_schema: pa.Schema | None = None
        self._final: tuple[str, ...] = ()
        self._layout: Layout | None = None
        self._last_bad: tuple[BadRecord, ...] = ()
        risk = profile.risk
        self._uni_before = UnicityMeter(risk.unicity)
        self._uni_after = UnicityMeter(risk.unicity)
        self._k_before: KAnonMeter | None = None
        self._k_after: KAnonMeter | None = None
        self.rows_out = 0

    # -- set-up ----------------------------------------------------------------------------------
    def _pseudonymizes(self) -> bool:
        return any(s.op == "pseudonymize" for s in self.profile.steps)

    def _guard(self) -> float:
        """How far steps after ``trips`` may move a point (the trim radius grows by it)."""
        steps = self.profile.steps
        ops = [s.op for s in steps]
        if "trips" not in ops:
            return 0.0
        guard = 0.0
        for step in steps[ops.index("trips") + 1 :]:
            params = step.params
            if isinstance(params, GeneralizeParams):
                if params.grid_m is None:
                    self._warnings.append(
                        "trip-end trimming is measured before reduction to regions: a region's "
                        "representative point may lie nearer a trip end than the trim distance"
                    )
                else:  # a grid step: max_displacement_m is a number
                    guard += Generalize(params, None).max_displacement_m() or 0.0
        return guard

    def _add_final_sweep(self, catalogue: AreaCatalogue | None) -> None:
        """Positions that move after the area removal are checked again where they land."""
        removal = next((i for i, o in enumerate(self.ops) if isinstance(o, RemoveAreas)), None)
        if removal is None:
            return
        moved = any(isinstance(o, Generalize | TransformCrs) for o in self.ops[removal + 1 :])
        if not moved:
            return
        params = self.ops[removal].params
        assert isinstance(params, RemoveAreasParams)
        sweep = RemoveAreas(params, catalogue, final=True)
        last = self.profile.steps[-1].op in ("aggregate", "deduplicate")
        at = len(self.ops) - 1 if last else len(self.ops)
        self.ops.insert(at, sweep)

    def _bind(self, plan: FieldPlan) -> None:
        layout = Layout.from_plan(plan)
        if plan.subject is None:
            self._warnings.append(
                "no vehicle or subject column: trips and unicity treat the input as one subject"
            )
        for op in self.ops:
            layout = op.bind(layout)
        drop_unhandled = self.profile.other_fields == "drop"
        self._final = tuple(n for n in layout.names if not drop_unhandled or n in layout.handled)
        dropped = [n for n in layout.names if n not in self._final]
        if dropped:
            self._warnings.append(f"fields no step names were dropped: {', '.join(dropped)}")
        self._layout = layout
        self._out = Classifier(self.pack, self._index, subject=layout.trace, source=self.source)
        qi, k = self.profile.risk.quasi_identifiers, self.profile.risk.k
        before = {f.name: f.category for f in plan.fields}
        self._k_before = KAnonMeter(_resolve(qi, before, self.pack), k)
        after = {n: layout.categories.get(n) for n in self._final}
        self._k_after = KAnonMeter(_resolve(qi, after, self.pack), k)

    # -- streaming -------------------------------------------------------------------------------
    @property
    def last_bad(self) -> tuple[BadRecord, ...]:
        """The input rows the last ``push`` rejected (bad values), with their row numbers."""
        return self._last_bad

    def quarantined(self, count: int) -> None:
        """Count rows an adapter rejected before they reached the runner."""
        self._in.add_quarantined(count)

    def push(
        self, batch: pa.RecordBatch, *, rows: np.ndarray | None = None
    ) -> list[pa.RecordBatch]:
        """Validate and classify ``batch``, run the steps, return what they release."""
        result = self._in.classify_batch(batch, rows=rows)
        self._last_bad = result.bad
        plan = self._in.plan_for(batch.schema)
        self._adopt(batch.schema, plan)
        data = result.data
        subject = (
            pc.cast(data.column(plan.subject), pa.string())
            if plan.subject is not None
            else pa.array([""] * data.num_rows, pa.string())
        )
        data = data.append_column(SUBJECT, subject)
        self._measure(
            self._uni_before,
            self._k_before,
            data,
            plan.lat,
            plan.lon,
            plan.crs,
            plan.ts,
            plan.subject,
        )
        return self._run(data, 0)

    def _adopt(self, schema: pa.Schema, plan: FieldPlan) -> None:
        if self._plan is None:
            self._plan, self._schema = plan, schema
            self._bind(plan)
        elif plan.fields != self._plan.fields:
            raise BadInput("the columns changed in the middle of the input", file=self.source)

    def finish(self, *, part: bool = False) -> list[pa.RecordBatch]:
        """Release what stateful steps hold; call once, after the last ``push``.

        ``part=True``: this runner saw one part of a stream that another runner merges
        (:meth:`part`, :meth:`merge`); whole-stream steps (``aggregate``) and the steps after
        them keep their state for that runner to release."""
        out: list[pa.RecordBatch] = []
        for i, op in enumerate(self.ops):
            if part and op.whole_stream:
                break
            held = op.flush()
            if held is not None:  # an empty batch still carries the output's schema
                out.extend(self._run(held, i + 1))
        return out

    def _run(self, batch: pa.RecordBatch, start: int) -> list[pa.RecordBatch]:
        current: pa.RecordBatch | None = batch
        for op in self.ops[start:]:
            if current is None:
                return []
            current = op.apply(current)
        if current is None:
            return []
        if current.num_rows == 0:  # nothing released, but the output's schema is now known
            if self._out_schema is None and self._layout is not None:
                self._out_schema = current.select(
                    [n for n in self._final if n in current.schema.names]
                ).schema
            return []
        return [self._release(current)]

    def _release(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        layout = self._layout
        assert layout is not None and self._out is not None
        names = [n for n in self._final if n in batch.schema.names]
        out = batch.select(names)
        if SUBJECT in batch.schema.names:
            trace = layout.trace if layout.trace in batch.schema.names else None
            self._measure(
                self._uni_after,
                self._k_after,
                batch,
                layout.lat,
                layout.lon,
                layout.crs,
                layout.ts,
                trace,
                final=names,
            )
        result = self._out.classify_batch(out)
        self._out_schema = out.schema
        if result.bad:
            self._warnings.append(
                f"{len(result.bad)} output rows did not validate on re-classification"
            )
        self.rows_out += out.num_rows
        return out

    def _measure(
        self,
        uni: UnicityMeter,
        kanon: KAnonMeter | None,
        batch: pa.RecordBatch,
        lat: str | None,
        lon: str | None,
        crs: str | None,
        ts: str | None,
        trace: str | None,
        final: list[str] | None = None,
    ) -> None:
        subject = batch.column(SUBJECT)
        if kanon is not None:
            kanon.add(batch, subject)
        if lat is None or lon is None or ts is None or batch.num_rows == 0:
            return
        if lat not in batch.schema.names or (final is not None and lat not in final):
            return
        x = pc.cast(batch.column(lon), pa.float64()).to_numpy(zero_copy_only=False).copy()
        y = pc.cast(batch.column(lat), pa.float64()).to_numpy(zero_copy_only=False).copy()
        if crs is not None and crs in batch.schema.names:
            eq = pc.fill_null(pc.equal(pc.cast(batch.column(crs), pa.string()), "gcj02"), False)
            gcj = np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)
            if gcj.any():
                x[gcj], y[gcj] = gcj02_to_wgs84(x[gcj], y[gcj])
        ms = pc.cast(batch.column(ts), pa.int64()).to_numpy(zero_copy_only=False)
        subj = np.asarray(subject.to_numpy(zero_copy_only=False), dtype=object)
        tr = (
            np.asarray(
                pc.cast(batch.column(trace), pa.string()).to_numpy(zero_copy_only=False),
                dtype=object,
            )
            if trace is not None
            else None
        )
        uni.add(subj, tr, x, y, np.nan_to_num(ms.astype(np.float64)).astype(np.int64))

    @property
    def output_schema(self) -> pa.Schema | None:
        """The schema of what this runner releases, also when it released no row (``None``:
        no row reached the steps)."""
        return self._out_schema

    # -- parts of one stream ---------------------------------------------------------------------
    def part(self) -> RunnerPart:
        """What this runner counted, measured and holds (after ``finish(part=True)``)."""
        before = self._in.distinct_values()
        after = self._out.distinct_values() if self._out is not None else (None, None)
        return RunnerPart(
            schema=self._schema,
            out_schema=self._out_schema,
            before=self._in.tally(),
            before_distinct=before,
            after=self._out.tally() if self._out is not None else None,
            after_distinct=after,
            unicity=(self._uni_before, self._uni_after),
            kanon=(self._k_before, self._k_after),
            operators=tuple(op.state() for op in self.ops),
            rows_out=self.rows_out,
            warnings=tuple(self._warnings),
        )

    def merge(self, part: RunnerPart) -> None:
        """Add a part's figures and held state; this runner must not have been pushed to.

        Exact: additive figures add up, distinct subjects and the meters' rows are unions, and
        whole-stream steps merge their held rows (then ``finish`` releases them)."""
        if part.schema is None:  # a part without rows (an empty partition)
            return
        self._adopt(part.schema, self._in.plan_for(part.schema))
        assert self._out is not None
        self._in.add_tally(part.before)
        self._in.add_distinct(*part.before_distinct)
        if part.after is not None:
            if part.out_schema is not None:
                self._out.plan_for(part.out_schema)
                self._out_schema = part.out_schema
            self._out.add_tally(part.after)
            self._out.add_distinct(*part.after_distinct)
        self._uni_before.merge(part.unicity[0])
        self._uni_after.merge(part.unicity[1])
        for mine, theirs in ((self._k_before, part.kanon[0]), (self._k_after, part.kanon[1])):
            if mine is not None and theirs is not None:
                mine.merge(theirs)
        if len(part.operators) != len(self.ops):
            raise BadInput("a part ran another profile")
        for op, state in zip(self.ops, part.operators, strict=True):
            op.merge(state)
        self.rows_out += part.rows_out
        self._warnings.extend(part.warnings)

    # -- result ----------------------------------------------------------------------------------
    def report(self) -> RiskReport:
        """The risk report for everything pushed so far (call after ``finish``)."""
        before = self._in.assessment()
        if self._out is None:
            self._out = Classifier(self.pack, self._index, source=self.source)
        after = self._out.assessment()
        empty = KAnonMeter((), self.profile.risk.k)
        spec = self.profile.risk.unicity
        return RiskReport(
            profile=self.profile.name,
            pack=f"{self.pack.name}@{self.pack.version}",
            promise=check_promise(self.profile.promise, after, self.pack),
            rows_in=before.rows,
            rows_out=self.rows_out,
            rows_quarantined=before.rows_quarantined,
            before=before,
            after=after,
            unicity={
                "cell_m": spec.cell_m,
                "bucket_s": spec.bucket_s,
                "seed": spec.seed,
                "samples": spec.samples,
            },
            unicity_before=tuple(self._uni_before.result()),
            unicity_after=tuple(self._uni_after.result()),
            kanon_before=(self._k_before or empty).result(),
            kanon_after=(self._k_after or empty).result(),
            operators=tuple(op.report() for op in self.ops),
            key_ids=self.key_ids,
            warnings=tuple(dict.fromkeys(self._warnings)),
        )


def _resolve(entries: list[str], columns: dict[str, str | None], pack: Pack) -> tuple[str, ...]:
    """Quasi-identifier entries (category keys or column names) to the columns present."""
    out: list[str] = []
    for entry in entries:
        if entry in pack.categories:
            out += [n for n, c in columns.items() if c and pack.is_within(c, entry)]
        else:
            out += [n for n in columns if n.casefold() == entry.casefold()]
    return tuple(dict.fromkeys(out))
