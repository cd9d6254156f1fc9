# mypy: disable-error-code="no-untyped-def"
"""Compiled (numba) per-cell edge lists: which of an area's segments a point can need.

For a point in a mixed cell and a candidate area, the exact test needs only:

* for the even-odd parity (ray to +x), the segments whose y-range meets the cell's row and
  that reach the cell's west side or beyond (no other segment can cross the ray);
* for the distance, the segments that can be the nearest one for some point of the cell and
  lie within the buffer: ``mindist(seg, cell) <= min(buffer, min over segs of maxdist)``,
  with the change of metres-per-degree across the cell as margin.

Each candidate ``j`` of ``cand`` gets ``edges[estart[j]:estart[j] + npar[j]]`` (parity) then
``edges[estart[j] + npar[j]:estart[j + 1]]`` (distance), as segment indices.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from onshore.geo._kernels import _EPS_M, _row_scales

_EPS_DEG = 1e-9


@numba.njit(cache=True, inline="always")
def _seg_dist(px, py, ax, ay, bx, by):
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    t = 0.0
    if len2 > 0:
        t = min(max(((px - ax) * dx + (py - ay) * dy) / len2, 0.0), 1.0)
    ex = ax + t * dx - px
    ey = ay + t * dy - py
    return math.sqrt(ex * ex + ey * ey)


@numba.njit(cache=True, inline="always")
def _rect_dist(px, py, hw, hh):
    ex = max(abs(px) - hw, 0.0)
    ey = max(abs(py) - hh, 0.0)
    return math.sqrt(ex * ex + ey * ey)


@numba.njit(cache=True, inline="always")
def _clips(ax, ay, bx, by, hw, hh):
    """Does the segment meet the rectangle [-hw, hw] x [-hh, hh]? (Liang-Barsky)"""
    t0 = 0.0
    t1 = 1.0
    dx = bx - ax
    dy = by - ay
    for p, q in ((-dx, ax + hw), (dx, hw - ax), (-dy, ay + hh), (dy, hh - ay)):
        if p == 0.0:
            if q < 0.0:
                return False
        else:
            r = q / p
            if p < 0.0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
            if t0 > t1:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _cell_edges(cell, a, nx, gx0, gy0, cw, ch, seg_start, sx0, sy0, sx1, sy1, buf, out, pos, write):
    """Count (and when ``write``, store at ``pos``) the parity then distance edges."""
    iy = cell // nx
    ix = cell - iy * nx
    xlo = gx0 + ix * cw
    ylo = gy0 + iy * ch
    yhi = ylo + ch
    cx = xlo + 0.5 * cw
    cy = ylo + 0.5 * ch
    kx, ky, rho_lo, rho_hi = _row_scales(ylo, yhi)
    hw = 0.5 * cw * kx + _EPS_M
    hh = 0.5 * ch * ky + _EPS_M
    s0 = seg_start[a]
    s1 = seg_start[a + 1]
    hd = math.sqrt(hw * hw + hh * hh)
    # Upper bound on every point's distance to the rings: the exact farthest-corner distance
    # of the segment nearest the centre, or any centre distance plus the half-diagonal.
    upper = np.inf
    nearest = s0
    dcs = np.empty(s1 - s0)
    for j in range(s0, s1):
        dc = _seg_dist(
            0.0, 0.0, (sx0[j] - cx) * kx, (sy0[j] - cy) * ky, (sx1[j] - cx) * kx, (sy1[j] - cy) * ky
        )
        dcs[j - s0] = dc
        if dc + hd < upper:
            upper = dc + hd
            nearest = j
    ax = (sx0[nearest] - cx) * kx
    ay = (sy0[nearest] - cy) * ky
    bx = (sx1[nearest] - cx) * kx
    by = (sy1[nearest] - cy) * ky
    far = 0.0
    for qx, qy in ((-hw, -hh), (hw, -hh), (-hw, hh), (hw, hh)):
        far = max(far, _seg_dist(qx, qy, ax, ay, bx, by))
    upper = min(upper, far)
    reach = min(buf[a], rho_hi * upper) + _EPS_M
    one = np.uint64(1)
    pmask = np.uint64(0)
    dmask = np.uint64(0)
    npar = 0
    for j in range(s0, s1):
        if (
            max(sy0[j], sy1[j]) >= ylo - _EPS_DEG
            and min(sy0[j], sy1[j]) <= yhi + _EPS_DEG
            and max(sx0[j], sx1[j]) >= xlo - _EPS_DEG
        ):
            if write:
                out[pos + npar] = j
            elif j - s0 < 64:
                pmask |= one << np.uint64(j - s0)
            npar += 1
    ndist = 0
    for j in range(s0, s1):
        if rho_lo * (dcs[j - s0] - hd) > reach:
            continue  # cheap lower bound already out of reach
        ax = (sx0[j] - cx) * kx
        ay = (sy0[j] - cy) * ky
        bx = (sx1[j] - cx) * kx
        by = (sy1[j] - cy) * ky
        if _clips(ax, ay, bx, by, hw, hh):
            near = 0.0
        else:
            near = min(_rect_dist(ax, ay, hw, hh), _rect_dist(bx, by, hw, hh))
            for qx, qy in ((-hw, -hh), (hw, -hh), (-hw, hh), (hw, hh)):
                near = min(near, _seg_dist(qx, qy, ax, ay, bx, by))
        if rho_lo * near <= reach:
            if write:
                out[pos + npar + ndist] = j
            elif j - s0 < 64:
                dmask |= one << np.uint64(j - s0)
            ndist += 1
    return npar, ndist, pmask, dmask


@numba.njit(cache=True, parallel=True)
def cell_edges(slot_of, start, cand, nx, gx0, gy0, cw, ch, seg_start, sx0, sy0, sx1, sy1, buf):
    """Edge lists of every (mixed cell, candidate): ``(estart, npar, edges)``."""
    m = cand.size
    npar = np.zeros(m, dtype=np.int32)
    count = np.zeros(m, dtype=np.int64)
    pmask = np.zeros(m, dtype=np.uint64)
    dmask = np.zeros(m, dtype=np.uint64)
    dummy = np.zeros(1, dtype=np.int32)
    for slot in prange(slot_of.size):
        for j in range(start[slot], start[slot + 1]):
            if cand[j] >= 0:
                p, d, pm, dm = _cell_edges(
                    slot_of[slot], cand[j], nx, gx0, gy0, cw, ch,
                    seg_start, sx0, sy0, sx1, sy1, buf, dummy, 0, False,
                )  # fmt: skip
                npar[j] = p
                count[j] = p + d
                pmask[j] = pm
                dmask[j] = dm
    estart = np.zeros(m + 1, dtype=np.int64)
    for j in range(m):
        estart[j + 1] = estart[j] + count[j]
    edges = np.empty(estart[m], dtype=np.int32)
    one = np.uint64(1)
    for slot in prange(slot_of.size):
        for j in range(start[slot], start[slot + 1]):
            a = cand[j]
            if a < 0:
                continue
            s0 = seg_start[a]
            nseg = seg_start[a + 1] - s0
            if nseg > 64:  # masks hold 64 segments: recompute the long ones
                _cell_edges(
                    slot_of[slot], a, nx, gx0, gy0, cw, ch,
                    seg_start, sx0, sy0, sx1, sy1, buf, edges, estart[j], True,
                )  # fmt: skip
                continue
            k = estart[j]
            for b in range(nseg):
                if (pmask[j] >> np.uint64(b)) & one:
                    edges[k] = s0 + b
                    k += 1
            for b in range(nseg):
                if (dmask[j] >> np.uint64(b)) & one:
                    edges[k] = s0 + b
                    k += 1
    return estart, npar, edges
