"""Exact point-in-area tests in NumPy, over (point, area) candidate pairs.

The polygons are flattened once into segment arrays (every ring of every part of every
area, grouped by area). A pair is tested against all the segments of its area:

* **containment**: even-odd ray casting over all rings (holes and MultiPolygon parts need no
  special case, because a valid polygon's rings never cross), with a point on the boundary
  counted as inside (shapely's ``covers``), via the distance test below;
* **distance**: the smallest point-to-segment distance, in metres of the local projection at
  the point's latitude (see :mod:`onshore.geo.ellipsoid`).

Coordinates are taken relative to the point before anything else, which keeps the arithmetic
exact to far below a millimetre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from onshore.geo.ellipsoid import metres_per_degree

PAIR_SEGMENT_BUDGET = 1 << 20
"""Most (pair, segment) rows materialised at once: bounds memory to a few tens of MB."""

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Idx = NDArray[np.integer[Any]]


@dataclass(frozen=True)
class Segments:
    """All ring segments of a catalogue, grouped by area ``i`` at ``start[i]:start[i+1]``."""

    x0: F64
    y0: F64
    x1: F64
    y1: F64
    start: I64

    @property
    def count(self) -> I64:
        """Number of segments per area."""
        return np.diff(self.start)


def flatten_segments(geoms: list[shapely.Geometry]) -> Segments:
    """Flatten Polygons / MultiPolygons into per-area segment arrays (lon/lat degrees)."""
    n = len(geoms)
    if n == 0:
        empty = np.zeros(0)
        return Segments(empty, empty, empty, empty, np.zeros(1, dtype=np.int64))
    parts, part_area = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = coord_ring[:-1] == coord_ring[1:]
    a = coords[:-1][same_ring]
    b = coords[1:][same_ring]
    seg_area = part_area[ring_part[coord_ring[:-1][same_ring]]]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(seg_area, minlength=n), out=start[1:])
    return Segments(
        x0=np.ascontiguousarray(a[:, 0]),
        y0=np.ascontiguousarray(a[:, 1]),
        x1=np.ascontiguousarray(b[:, 0]),
        y1=np.ascontiguousarray(b[:, 1]),
        start=start,
    )


def pair_tests(
    px: F64, py: F64, area: Idx, segs: Segments, scale: tuple[F64, F64] | None = None
) -> tuple[NDArray[np.bool_], F64]:
    """For each pair (``px[k]``, ``py[k]``, ``area[k]``): inside-or-on, distance in metres.

    The distance is to the area's boundary (all rings), whether the point is inside or not,
    in metres at the point's latitude, or at the per-pair ``scale`` = (kx, ky) when given.
    Work is split so that at most :data:`PAIR_SEGMENT_BUDGET` rows exist at once.
    """
    m = len(area)
    inside = np.zeros(m, dtype=bool)
    dist = np.zeros(m, dtype=np.float64)
    if m == 0:
        return inside, dist
    nseg = segs.count[area]
    cum = np.cumsum(nseg)
    lo = 0
    while lo < m:
        base = cum[lo - 1] if lo else 0
        hi = int(np.searchsorted(cum, base + PAIR_SEGMENT_BUDGET, side="right"))
        hi = max(hi, lo + 1)
        sl = slice(lo, hi)
        if scale is None:
            kx, ky = metres_per_degree(py[sl])
        else:
            kx, ky = scale[0][sl], scale[1][sl]
        inside[sl], dist[sl] = _pair_block(px[sl], py[sl], area[sl], nseg[sl], segs, kx, ky)
        lo = hi
    return inside, dist


def _pair_block(
    px: F64, py: F64, area: Idx, nseg: I64, segs: Segments, kx: F64, ky: F64
) -> tuple[NDArray[np.bool_], F64]:
    total = int(nseg.sum())
    first = np.zeros(len(area), dtype=np.int64)
    np.cumsum(nseg[:-1], out=first[1:])
    rep = np.repeat(np.arange(len(area)), nseg)
    sidx = np.repeat(segs.start[area] - first, nseg) + np.arange(total)
    qx = px[rep]
    qy = py[rep]
    x0 = segs.x0[sidx] - qx
    y0 = segs.y0[sidx] - qy
    x1 = segs.x1[sidx] - qx
    y1 = segs.y1[sidx] - qy
    # Ray to +x from the origin: the edge straddles y = 0 (half-open) and crosses at x > 0.
    up0 = y0 > 0
    up1 = y1 > 0
    cross = (up0 != up1) & ((x0 * y1 - x1 * y0 > 0) == (y1 > y0))
    odd = np.logical_xor.reduceat(cross, first)
    kxr = kx[rep]
    kyr = ky[rep]
    ax = x0 * kxr
    ay = y0 * kyr
    dx = x1 * kxr - ax
    dy = y1 * kyr - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0, -(ax * dx + ay * dy) / len2, 0.0)
    np.clip(t, 0.0, 1.0, out=t)
    cx = ax + t * dx
    cy = ay + t * dy
    d2 = cx * cx + cy * cy
    # A point exactly on an edge can come out a rounding error (1e-13 m) away: test it exactly.
    on = (
        (x0 * y1 - x1 * y0 == 0.0)
        & (np.minimum(x0, x1) <= 0.0)
        & (np.maximum(x0, x1) >= 0.0)
        & (np.minimum(y0, y1) <= 0.0)
        & (np.maximum(y0, y1) >= 0.0)
    )
    d2[on] = 0.0
    dist = np.sqrt(np.minimum.reduceat(d2, first))
    return odd | (dist == 0.0), dist
