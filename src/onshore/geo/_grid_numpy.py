"""The classified cell grid built and queried in NumPy (the engine when numba is absent).

Same classes and the same folding rule as the compiled build (:mod:`onshore.geo.grid`), done
over (cell, area) pairs in blocks; no per-cell edge lists (the NumPy exact test takes all of
an area's segments). Lookups gather cell states for whole chunks of points and test only the
points of mixed cells, over (point, candidate) pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from onshore.geo._exact import Segments, pair_tests
from onshore.geo.ellipsoid import metres_per_degree

BLOCK_PAIRS = 1 << 20
"""(cell, area) pairs classified at once."""
CHUNK_POINTS = 1 << 16
"""Points looked up at once."""
_EPS_M = 1e-3

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def row_scales(lat_lo: F64, lat_hi: F64) -> tuple[F64, F64, F64]:
    """Reference scales of rows of cells (middle, clamped) and the least ratio within them."""
    lo = np.maximum(lat_lo, -90.0)
    hi = np.minimum(lat_hi, 90.0)
    kx, ky = metres_per_degree(0.5 * (lo + hi))
    rho = np.ones_like(lo)
    for lat in (lo, hi, np.where((lo < 0) & (hi > 0), 0.0, lo)):
        kxl, kyl = metres_per_degree(lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.fmin(rho, np.fmin(kxl / kx, kyl / ky))
    return kx, ky, np.where(rho >= 0, rho, 0.0)


def classify_numpy(
    shape: Any, segments: Segments, buffer_m: F64
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int32]]:
    """(state, start, cand) of the grid described by ``shape`` (see ``grid._GridShape``)."""
    n = shape.ix0.size
    big = np.iinfo(np.int32).max
    first_in = np.full(shape.nx * shape.ny, big, dtype=np.int64)
    part_cell: list[I64] = []
    part_area: list[I64] = []
    cum = np.cumsum(shape.per)
    lo = 0
    while lo < n:
        base = int(cum[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + BLOCK_PAIRS, side="right")))
        per = shape.per[lo:hi]
        area = np.repeat(np.arange(lo, hi), per)
        k = np.arange(area.size) - np.repeat(np.cumsum(per) - per, per)
        w = shape.w[area]
        ix = shape.ix0[area] + k % w
        iy = shape.iy0[area] + k // w
        lat_lo = shape.y0 + iy * shape.ch
        kx, ky, rho = row_scales(lat_lo, lat_lo + shape.ch)
        cx = shape.x0 + (ix + 0.5) * shape.cw
        cy = lat_lo + 0.5 * shape.ch
        ins, d = pair_tests(cx, cy, area, segments, scale=(kx, ky))
        hd = 0.5 * np.hypot(shape.cw * kx, shape.ch * ky)
        touch = d <= hd + _EPS_M
        inside = ~touch & ins
        out = ~touch & ~ins & ((d - hd - _EPS_M) * rho > buffer_m[area] * (1 + 1e-9) + _EPS_M)
        cell = iy * shape.nx + ix
        np.minimum.at(first_in, cell[inside], area[inside])
        partial = ~inside & ~out
        part_cell.append(cell[partial])
        part_area.append(area[partial])
        lo = hi
    pc = np.concatenate(part_cell) if part_cell else np.zeros(0, np.int64)
    pa = np.concatenate(part_area) if part_area else np.zeros(0, np.int64)
    keep = pa < first_in[pc]
    pc, pa = pc[keep], pa[keep]
    order = np.lexsort((pa, pc))
    pc, pa = pc[order], pa[order]
    first_in = np.where(first_in == big, -1, first_in)
    cells, count = np.unique(pc, return_counts=True)
    extra = (first_in[cells] >= 0).astype(np.int64)
    state = first_in.astype(np.int32)
    state[cells] = -2 - np.arange(cells.size, dtype=np.int32)
    start = np.zeros(cells.size + 1, dtype=np.int64)
    np.cumsum(count + extra, out=start[1:])
    cand = np.empty(int(start[-1]), dtype=np.int32)
    slot_first = np.repeat(start[:-1], count)
    rank = np.arange(pc.size) - np.repeat(np.cumsum(count) - count, count)
    cand[slot_first + rank] = pa
    has = extra.astype(bool)
    cand[start[1:][has] - 1] = -1 - first_in[cells[has]]
    return state, start, cand


def lookup_numpy(grid: Any, index: Any, x: F64, y: F64, out: tuple[Any, ...]) -> None:
    """Fill ``out`` = (area, inside, dist) for valid points, chunk by chunk."""
    area, inside, dist, invalid = out
    for lo in range(0, x.size, CHUNK_POINTS):
        pts = lo + np.flatnonzero(~invalid[lo : lo + CHUNK_POINTS])
        _chunk(grid, index, x[pts], y[pts], pts, area, inside, dist)


def _chunk(g: Any, index: Any, px: F64, py: F64, pts: I64, *out: Any) -> None:
    area, inside, dist = out
    fx = np.floor((px - g.x0) / g.cw)
    fy = np.floor((py - g.y0) / g.ch)
    ok = np.flatnonzero((fx >= 0) & (fx < g.nx) & (fy >= 0) & (fy < g.ny))
    v = g.state[(fy[ok] * g.nx + fx[ok]).astype(np.int64)]
    res = ok[v >= 0]
    area[pts[res]] = v[v >= 0]
    inside[pts[res]] = True
    dist[pts[res]] = 0.0
    mixed = ok[v <= -2]
    slot = -2 - v[v <= -2].astype(np.int64)
    s = g.start[slot]
    cnt = g.start[slot + 1] - s
    pt = np.repeat(mixed, cnt)
    j = np.repeat(s, cnt) + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ar = g.cand[j].astype(np.int64)
    flagged = ar < 0
    ar = np.where(flagged, -1 - ar, ar)
    b = index.bounds[ar]
    qx, qy = px[pt], py[pt]
    near = (qx >= b[:, 0]) & (qx <= b[:, 2]) & (qy >= b[:, 1]) & (qy <= b[:, 3])
    test = np.flatnonzero(~flagged & near)
    ins = flagged.copy()
    d = np.zeros(pt.size)
    ins[test], d[test] = pair_tests(qx[test], qy[test], ar[test], index.segments)
    hit = ins | (near & (d <= index.buffer_m[ar]))
    pt, ar, ins, d = pt[hit], ar[hit], ins[hit], np.where(ins[hit], 0.0, d[hit])
    order = np.lexsort((ar, d, ~ins, pt))
    pt, ar, ins, d = pt[order], ar[order], ins[order], d[order]
    first = np.ones(pt.size, dtype=bool)
    first[1:] = pt[1:] != pt[:-1]
    dest = pts[pt[first]]
    area[dest] = ar[first]
    inside[dest] = ins[first]
    dist[dest] = d[first]
