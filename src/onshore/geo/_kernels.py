# mypy: disable-error-code="no-untyped-def"
"""Compiled (numba) kernels of the area index: cell classification and point lookup.

Imported only when numba is installed (the ``fast`` extra); :mod:`onshore.geo.index` falls
back to the NumPy engine otherwise. The arithmetic is the same as :mod:`onshore.geo._exact`
(coordinates relative to the point, even-odd crossings without division, point-to-segment
distance in local metres), so both engines give the same answers.

Cell classes, per (cell, area): ``OUT`` (no point of the cell can match the area), ``IN``
(every point of the cell is inside the polygon) and ``PARTIAL`` (test exactly).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

OUT = 0
IN = 1
PARTIAL = 2

_A = 6378137.0
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)
_K = math.pi / 180.0 * _A
_EPS_M = 1e-3
"""Slack in metres on every cell decision (cells only route; exact tests decide)."""


@numba.njit(cache=True, nogil=True, inline="always")
def _scales(lat: float) -> tuple[float, float]:
    phi = lat * (math.pi / 180.0)
    s = math.sin(phi)
    w2 = 1.0 - _E2 * s * s
    w = math.sqrt(w2)
    return _K * math.cos(phi) / w, _K * (1.0 - _E2) / (w2 * w)


@numba.njit(cache=True, nogil=True)
def _row_scales(lat_lo: float, lat_hi: float) -> tuple[float, float, float, float]:
    """Reference scales of a row of cells (at its middle, clamped to the globe) and the least
    and greatest ratio of any latitude's scales in the row to them."""
    lo = max(lat_lo, -90.0)
    hi = min(lat_hi, 90.0)
    kx, ky = _scales(0.5 * (lo + hi))
    rlo = 1.0
    rhi = 1.0
    for lat in (lo, hi, 0.0):
        if lat == 0.0 and not (lo < 0.0 < hi):
            continue
        kxl, kyl = _scales(lat)
        rlo = min(rlo, kxl / kx, kyl / ky)
        rhi = max(rhi, kxl / kx, kyl / ky)
    if not rlo >= 0.0:
        rlo = 0.0
    if not rhi < np.inf:
        rhi = np.inf
    return kx, ky, rlo, rhi


@numba.njit(cache=True, nogil=True, inline="always")
def _on_segment(x0, y0, x1, y1):
    """Whether the origin lies on the segment (coordinates relative to the point, degrees).

    The projected distance below can come out a rounding error above zero (1e-13 m) for a point
    exactly on an edge; shapely's ``covers`` counts such a point, so it is tested exactly here.
    """
    return (
        x0 * y1 - x1 * y0 == 0.0
        and min(x0, x1) <= 0.0 <= max(x0, x1)
        and min(y0, y1) <= 0.0 <= max(y0, y1)
    )


@numba.njit(cache=True, nogil=True)
def _parity_dist(px, py, kx, ky, s0, s1, sx0, sy0, sx1, sy1, need_dist):
    """Even-odd parity of (px, py) over segments s0:s1, and its distance to them in metres."""
    odd = False
    best = np.inf
    for j in range(s0, s1):
        x0 = sx0[j] - px
        y0 = sy0[j] - py
        x1 = sx1[j] - px
        y1 = sy1[j] - py
        if (y0 > 0) != (y1 > 0) and ((x0 * y1 - x1 * y0 > 0) == (y1 > y0)):
            odd = not odd
        if need_dist:
            if _on_segment(x0, y0, x1, y1):
                best = 0.0
                continue
            ax = x0 * kx
            ay = y0 * ky
            dx = x1 * kx - ax
            dy = y1 * ky - ay
            len2 = dx * dx + dy * dy
            t = 0.0
            if len2 > 0:
                t = -(ax * dx + ay * dy) / len2
                t = min(max(t, 0.0), 1.0)
            cx = ax + t * dx
            cy = ay + t * dy
            d2 = cx * cx + cy * cy
            best = min(best, d2)
    return odd, math.sqrt(best)


@numba.njit(cache=True, nogil=True, inline="always")
def _parity_of(px, py, e0, e1, edges, sx0, sy0, sx1, sy1):
    """Even-odd parity of (px, py) over the listed segments (same arithmetic as above)."""
    odd = False
    for k in range(e0, e1):
        j = edges[k]
        x0 = sx0[j] - px
        y0 = sy0[j] - py
        x1 = sx1[j] - px
        y1 = sy1[j] - py
        if (y0 > 0) != (y1 > 0) and ((x0 * y1 - x1 * y0 > 0) == (y1 > y0)):
            odd = not odd
    return odd


@numba.njit(cache=True, nogil=True, inline="always")
def _dist_of(px, py, kx, ky, e0, e1, edges, sx0, sy0, sx1, sy1):
    """Distance in metres from (px, py) to the listed segments (inf for none)."""
    best = np.inf
    for k in range(e0, e1):
        j = edges[k]
        x0 = sx0[j] - px
        y0 = sy0[j] - py
        x1 = sx1[j] - px
        y1 = sy1[j] - py
        if _on_segment(x0, y0, x1, y1):
            return 0.0
        ax = x0 * kx
        ay = y0 * ky
        dx = x1 * kx - ax
        dy = y1 * ky - ay
        len2 = dx * dx + dy * dy
        t = 0.0
        if len2 > 0:
            t = -(ax * dx + ay * dy) / len2
            t = min(max(t, 0.0), 1.0)
        cx = ax + t * dx
        cy = ay + t * dy
        best = min(best, cx * cx + cy * cy)
    return math.sqrt(best)


@numba.njit(cache=True, nogil=True)
def _classify_area(a, ix0, iy0, w, h, gx0, gy0, cw, ch, seg_start, sx0, sy0, sx1, sy1, buf, out):
    """Classify the w*h cells of area ``a``'s expanded box into ``out`` (row-major)."""
    s0 = seg_start[a]
    s1 = seg_start[a + 1]
    for r in range(h):
        iy = iy0 + r
        lat_lo = gy0 + iy * ch
        lat_hi = lat_lo + ch
        cy = lat_lo + 0.5 * ch
        kx, ky, rho, _ = _row_scales(lat_lo, lat_hi)
        hd = 0.5 * math.sqrt((cw * kx) ** 2 + (ch * ky) ** 2)
        for c in range(w):
            cx = gx0 + (ix0 + c + 0.5) * cw
            odd, d = _parity_dist(cx, cy, kx, ky, s0, s1, sx0, sy0, sx1, sy1, True)
            if d <= hd + _EPS_M:
                cls = PARTIAL
            elif odd:
                cls = IN
            elif (d - hd - _EPS_M) * rho > buf[a] * (1.0 + 1e-9) + _EPS_M:
                cls = OUT
            else:
                cls = PARTIAL
            out[r * w + c] = cls


@numba.njit(cache=True, parallel=True)
def classify_block(
    areas, ix0, iy0, w, h, offset, gx0, gy0, cw, ch, seg_start, sx0, sy0, sx1, sy1, buf, out
):
    """Classify the cells of a block of areas in parallel; area k writes at ``offset[k]``."""
    for k in prange(areas.size):
        o = offset[k]
        _classify_area(
            areas[k], ix0[k], iy0[k], w[k], h[k], gx0, gy0, cw, ch,
            seg_start, sx0, sy0, sx1, sy1, buf, out[o : o + w[k] * h[k]],
        )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def combine_block(areas, ix0, iy0, w, h, offset, nx, cls, first_in, pair_cell, pair_area, npairs):
    """Fold a block's classes into the grid, in area order; returns the new pair count.

    ``first_in[cell]`` keeps the lowest-index area containing the whole cell; a PARTIAL area
    is kept as a candidate of the cell only when no lower-index area contains the whole cell
    (otherwise it can never win there). Pairs must have room for every PARTIAL class.
    """
    for k in range(areas.size):
        a = areas[k]
        o = offset[k]
        for r in range(h[k]):
            row = (iy0[k] + r) * nx + ix0[k]
            for c in range(w[k]):
                v = cls[o + r * w[k] + c]
                cell = row + c
                if v == IN:
                    if first_in[cell] < 0:
                        first_in[cell] = a
                elif v == PARTIAL and first_in[cell] < 0:
                    pair_cell[npairs] = cell
                    pair_area[npairs] = a
                    npairs += 1
    return npairs


@numba.njit(cache=True, nogil=True)
def finish_grid(first_in, pair_cell, pair_area):
    """Cell states and candidate lists (CSR) from the folded pairs.

    ``state[cell]``: area index >= 0 when the cell is wholly inside it (and nothing can beat
    it there), -1 when nothing can match, ``-2 - slot`` for a mixed cell whose candidates are
    ``cand[start[slot]:start[slot + 1]]`` in area order; a candidate ``-1 - a`` is an area
    known to contain the whole cell (always last). ``slot_of[slot]`` is the slot's cell.
    """
    ncell = first_in.size
    count = np.zeros(ncell, dtype=np.int64)
    for p in range(pair_cell.size):
        count[pair_cell[p]] += 1
    state = np.empty(ncell, dtype=np.int32)
    nslot = 0
    total = 0
    for cell in range(ncell):
        if count[cell] == 0:
            state[cell] = first_in[cell]
        else:
            state[cell] = -2 - nslot
            nslot += 1
            total += count[cell] + (1 if first_in[cell] >= 0 else 0)
    start = np.zeros(nslot + 1, dtype=np.int64)
    slot_of = np.empty(nslot, dtype=np.int64)
    for cell in range(ncell):
        if state[cell] <= -2:
            slot = -2 - state[cell]
            slot_of[slot] = cell
            start[slot + 1] = start[slot] + count[cell] + (1 if first_in[cell] >= 0 else 0)
    cand = np.empty(total, dtype=np.int32)
    fill = start[:-1].copy()
    for p in range(pair_cell.size):
        slot = -2 - state[pair_cell[p]]
        cand[fill[slot]] = pair_area[p]
        fill[slot] += 1
    for slot in range(nslot):
        a = first_in[slot_of[slot]]
        if a >= 0:
            cand[fill[slot]] = -1 - a
    return state, start, cand, slot_of


@numba.njit(cache=True, nogil=True)
def lookup_range(
    lo,
    hi,
    x,
    y,
    gx0,
    gy0,
    icw,
    ich,
    nx,
    ny,
    state,
    start,
    cand,
    estart,
    npar,
    edges,
    sx0,
    sy0,
    sx1,
    sy1,
    buf,
    ebox,
    area,
    inside,
    dist,
    invalid,
):
    """Answer points lo:hi (see :mod:`onshore.geo.index` for the rule)."""
    for i in range(lo, hi):
        px = x[i]
        py = y[i]
        if not (abs(px) <= 180.0 and abs(py) <= 90.0):  # also false for NaN
            invalid[i] = True
            continue
        fx = (px - gx0) * icw
        fy = (py - gy0) * ich
        if not (fx >= 0.0 and fy >= 0.0 and fx < nx and fy < ny):
            continue
        v = state[int(fy) * nx + int(fx)]
        if v >= 0:
            area[i] = v
            inside[i] = True
            dist[i] = 0.0
            continue
        if v == -1:
            continue
        slot = -2 - v
        best = -1
        best_d = np.inf
        best_in = False
        have_k = False
        kx = 0.0
        ky = 0.0
        for j in range(start[slot], start[slot + 1]):
            a = cand[j]
            if a < 0:
                best = -1 - a
                best_in = True
                break
            if px < ebox[a, 0] or px > ebox[a, 2] or py < ebox[a, 1] or py > ebox[a, 3]:
                continue
            e0 = estart[j]
            e1 = e0 + npar[j]
            if _parity_of(px, py, e0, e1, edges, sx0, sy0, sx1, sy1):
                best = a
                best_in = True
                break
            if e1 == estart[j + 1]:
                continue
            if not have_k:
                kx, ky = _scales(py)
                have_k = True
            d = _dist_of(px, py, kx, ky, e1, estart[j + 1], edges, sx0, sy0, sx1, sy1)
            if d == 0.0:
                best = a
                best_in = True
                break
            if d <= buf[a] and d < best_d:
                best = a
                best_d = d
        if best >= 0:
            area[i] = best
            inside[i] = best_in
            dist[i] = 0.0 if best_in else best_d
