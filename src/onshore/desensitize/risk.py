"""Residual risk: trajectory unicity (de Montjoye et al., "Unique in the Crowd", 2013).

A trace's points are its distinct (grid cell of ``cell_m`` metres, time bucket of ``bucket_s``)
pairs. For a data subject chosen at random, draw ``p`` of its points at random and count the
released traces that contain all of them: the subject is *identified* when exactly one trace
does and that trace is its own. Unicity is the share of the sampled subjects identified, among
those with at least ``p`` points. Before desensitizing, a trace is a subject's whole record;
after, it is whatever the output still links (a per-vehicle or per-trip pseudonym; with no
identifier left, every row stands alone). Points are drawn from what the output still holds of
the subject, the attacker's best case. Subjects are sampled with a seeded generator in the order
of their values, so the figures do not depend on the order of the rows, and meters of parts
merge (:meth:`UnicityMeter.merge`) into the figures of the whole.

>>> import numpy as np
>>> from onshore.packs.profiles import Unicity
>>> m = UnicityMeter(Unicity(cell_m=100, bucket_s=3600, points=[2]))
>>> ts = np.array([0, 0, 3_600_000, 0, 3_600_000])
>>> lon = np.array([116.0, 116.0, 116.01, 116.0, 116.02])
>>> who = np.array(["a", "a", "a", "b", "b"], dtype=object)
>>> m.add(who, who, lon, np.full(5, 40.0), ts)
>>> m.result()[0].unicity   # a's two points are only a's; b's two points only b's
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from onshore.desensitize.grid import MetricGrid
from onshore.packs.profiles import Unicity

_COMPACT = 1 << 22


@dataclass(frozen=True)
class UnicityFigure:
    """Unicity at ``p`` points: the share identified among the sampled eligible subjects."""

    p: int
    unicity: float | None
    subjects: int
    eligible: int
    sampled: int
    traces: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "unicity": self.unicity,
            "subjects": self.subjects,
            "eligible": self.eligible,
            "sampled": self.sampled,
            "traces": self.traces,
        }


class _Codes:
    """Stable integer codes for the strings of a stream, in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def encode(self, values: np.ndarray) -> np.ndarray:
        uniques, inverse = np.unique(values.astype(str), return_inverse=True)
        table = np.empty(len(uniques), dtype=np.int64)
        for i, u in enumerate(uniques.tolist()):
            table[i] = self.index.setdefault(u, len(self.index))
        return table[inverse]

    def values(self) -> np.ndarray:
        """The strings, in code order."""
        return np.asarray(list(self.index), dtype=object)


class UnicityMeter:
    """Accumulate (subject, trace, point) over a stream; estimate unicity at the end."""

    def __init__(self, spec: Unicity) -> None:
        self.spec = spec
        self.grid = MetricGrid(spec.cell_m)
        self._subjects = _Codes()
        self._traces = _Codes()
        self._parts: list[np.ndarray] = []
        self._rows = 0

    def add(
        self,
        subject: np.ndarray,
        trace: np.ndarray | None,
        lon: np.ndarray,
        lat: np.ndarray,
        ts_ms: np.ndarray,
    ) -> None:
        """One batch: subject and trace values (``None`` trace: each row its own), positions
        (NaN: unknown, skipped) and times in epoch milliseconds."""
        ok = ~(np.isnan(lon) | np.isnan(lat)) & np.not_equal(subject, np.array(None, dtype=object))
        if not ok.any():
            return
        s = self._subjects.encode(subject[ok])
        if trace is None:
            t = -1 - (self._rows + np.arange(int(ok.sum()), dtype=np.int64))
        else:
            t = self._traces.encode(trace[ok])
        row, col = self.grid.cells(lon[ok], lat[ok])
        bucket = np.floor_divide(ts_ms[ok], self.spec.bucket_s * 1000)
        self._rows += int(ok.sum())
        part = np.unique(np.column_stack([s, t, row, col, bucket]), axis=0)
        self._parts.append(part)
        if sum(len(p) for p in self._parts) > _COMPACT and len(self._parts) > 1:
            self._parts = [np.unique(np.concatenate(self._parts), axis=0)]

    def merge(self, other: UnicityMeter) -> None:
        """Add what a meter of the same spec accumulated over another part of the stream (a
        runner over parts, such as a Spark partition); the result is that of one stream."""
        if not other._parts:
            return
        rows = np.concatenate(other._parts)
        rows[:, 0] = self._subjects.encode(other._subjects.values())[rows[:, 0]]
        linked = rows[:, 1] >= 0
        if linked.any():
            codes = self._traces.encode(other._traces.values())
            rows[linked, 1] = codes[rows[linked, 1]]
        rows[~linked, 1] -= self._rows  # rows standing alone keep codes of their own
        self._rows += other._rows
        self._parts.append(np.unique(rows, axis=0))
        if sum(len(p) for p in self._parts) > _COMPACT and len(self._parts) > 1:
            self._parts = [np.unique(np.concatenate(self._parts), axis=0)]

    def result(self) -> list[UnicityFigure]:
        if not self._parts:
            return [UnicityFigure(p, None, 0, 0, 0, 0) for p in self.spec.points]
        rows = np.concatenate(self._parts)
        # subjects in the order of their values, not of their first appearance: the sample is
        # the same whatever order the stream (or a runner's partitions) came in
        names = self._subjects.values().astype(str)
        rank = np.empty(len(names), dtype=np.int64)
        rank[np.argsort(names, kind="stable")] = np.arange(len(names))
        rows[:, 0] = rank[rows[:, 0]]
        rows = np.unique(rows, axis=0)
        subj, trace = rows[:, 0], rows[:, 1]
        _, point = np.unique(rows[:, 2:], axis=0, return_inverse=True)
        point = point.reshape(-1)
        # postings: point -> sorted distinct traces holding it
        tp = np.unique(np.column_stack([point, trace]), axis=0)
        p_start = np.searchsorted(tp[:, 0], np.arange(point.max() + 2))
        # each subject's distinct points
        sp = np.unique(np.column_stack([subj, point]), axis=0)
        subjects = np.unique(sp[:, 0])
        s_start = np.searchsorted(sp[:, 0], subjects)
        s_end = np.r_[s_start[1:], len(sp)]
        owned = {(int(a), int(b)) for a, b in np.unique(rows[:, :2], axis=0)}
        traces = len(np.unique(trace))
        out = []
        for p in self.spec.points:
            rng = np.random.default_rng(self.spec.seed)
            eligible = np.flatnonzero(s_end - s_start >= p)
            if len(eligible) == 0:
                out.append(UnicityFigure(p, None, len(subjects), 0, 0, traces))
                continue
            size = min(self.spec.samples, len(eligible))
            chosen = rng.choice(eligible, size=size, replace=False)
            identified = 0
            for i in chosen:
                pts = rng.choice(sp[s_start[i] : s_end[i], 1], size=p, replace=False)
                candidates: np.ndarray | None = None
                for q in pts:
                    holders = tp[p_start[q] : p_start[q + 1], 1]
                    candidates = (
                        holders
                        if candidates is None
                        else np.intersect1d(candidates, holders, assume_unique=True)
                    )
                    if len(candidates) == 0:
                        break
                if (
                    candidates is not None
                    and len(candidates) == 1
                    and (int(subjects[i]), int(candidates[0])) in owned
                ):
                    identified += 1
            out.append(
                UnicityFigure(
                    p, round(identified / size, 4), len(subjects), len(eligible), size, traces
                )
            )
        return out
