"""Every area a point is in, not only the one that wins: areas may overlap.

:meth:`AreaIndex.lookup` names one area per point (the winner, by the rule of
:mod:`onshore.geo.index`). A point can be in several (a defence plant inside a military
zone): :func:`lookup_all` adds the others. Only areas whose reach (bounding box grown by the
buffer) meets another's can share a point, so the extra work is limited to those: for each such
area, one vectorized lookup of the points whose winner it meets and that lie in its reach,
against an index of that area alone. A catalogue without overlapping reaches costs nothing more
than :meth:`~AreaIndex.lookup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray

from onshore.geo.areas import AreaCatalogue

if TYPE_CHECKING:
    from onshore.geo.index import AreaIndex, AreaMatch


@dataclass(frozen=True)
class AreaMatches:
    """Every (point, area) match: ``rows`` and ``areas`` are parallel, sorted by row, and within
    a row the winner (``match.area``) comes first, then the others in catalogue order."""

    match: AreaMatch
    rows: NDArray[np.int64]
    areas: NDArray[np.int32]

    def offsets(self) -> NDArray[np.int32]:
        """List offsets (n + 1) of each point's areas in ``areas``: for an Arrow list array."""
        counts = np.bincount(self.rows, minlength=len(self.match)).astype(np.int32)
        out = np.zeros(len(self.match) + 1, dtype=np.int32)
        np.cumsum(counts, out=out[1:])
        return out

    def any_of(self, areas: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per point: whether any of its areas is one where ``areas`` (per area) is True."""
        hit = np.zeros(len(self.match), dtype=bool)
        if len(areas):
            hit[self.rows[areas[self.areas]]] = True
        return hit

    def counts(self, n_areas: int) -> NDArray[np.int64]:
        """Points per area, each point counted in every area it is in."""
        return np.bincount(self.areas, minlength=n_areas).astype(np.int64)


@dataclass
class Overlaps:
    """Which areas' reaches meet which others', and one-area indexes, built on first use."""

    partners: dict[int, NDArray[np.int32]]
    alone: dict[int, AreaIndex]


def overlaps_of(index: AreaIndex) -> Overlaps:
    """The areas whose reach (``index.bounds``) meets another's, with those others."""
    b = index.bounds
    partners: dict[int, NDArray[np.int32]] = {}
    if len(b) > 1:
        boxes = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        left, right = shapely.STRtree(boxes).query(boxes, predicate="intersects")
        keep = left != right
        left, right = left[keep], right[keep]
        order = np.argsort(left, kind="stable")
        left, right = left[order], right[order]
        for k in np.unique(left):
            partners[int(k)] = right[left == k].astype(np.int32)
    return Overlaps(partners, {})


def lookup_all(
    index: AreaIndex, x: NDArray[np.float64], y: NDArray[np.float64], overlaps: Overlaps
) -> AreaMatches:
    """Every area each point (``x`` lon, ``y`` lat, WGS-84) is in or within the buffer of."""
    from onshore.geo.index import AreaIndex

    match = index.lookup(x, y)
    rows = np.flatnonzero(match.area >= 0)
    winner = match.area[rows]
    all_rows = [rows.astype(np.int64)]
    all_areas = [winner.astype(np.int32)]
    ranks = [np.full(len(rows), -1, dtype=np.int64)]
    b = index.bounds
    # matched rows grouped by winner, so each area reads only its partners' rows
    by_winner = rows[np.argsort(winner, kind="stable")]
    edges = np.searchsorted(np.sort(winner), np.arange(len(b) + 1))
    for k, others in overlaps.partners.items():
        spans = [by_winner[edges[j] : edges[j + 1]] for j in others if edges[j] < edges[j + 1]]
        if not spans:
            continue
        sel = np.concatenate(spans)
        px, py = x[sel], y[sel]
        sel = sel[(px >= b[k, 0]) & (px <= b[k, 2]) & (py >= b[k, 1]) & (py <= b[k, 3])]
        if not len(sel):
            continue
        alone = overlaps.alone.get(k)
        if alone is None:
            one = AreaCatalogue((index.catalogue.areas[k],), index.catalogue.source)
            alone = overlaps.alone[k] = AreaIndex.build(one, engine="numpy")
        hit = sel[alone.lookup(x[sel], y[sel]).area >= 0]
        all_rows.append(hit.astype(np.int64))
        all_areas.append(np.full(len(hit), k, dtype=np.int32))
        ranks.append(np.full(len(hit), k, dtype=np.int64))
    r = np.concatenate(all_rows)
    a = np.concatenate(all_areas)
    order = np.lexsort((np.concatenate(ranks), r))
    return AreaMatches(match, r[order], a[order])
