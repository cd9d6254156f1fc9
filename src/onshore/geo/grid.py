"""The classified cell grid of the compiled engine.

A uniform grid (in degrees, cells about ``cell_m`` metres square at the catalogue's middle
latitude) covers the catalogue's buffer-expanded extent. Every cell in an area's expanded box
is classified against the area from the distance of the cell's centre to the area's rings
(with the cell's half-diagonal and the change of metres-per-degree across the cell as margin):
*inside* (the whole cell lies in the polygon), *outside* (no point of the cell is within the
buffer) or *partial*. Folding the areas in file order gives each cell one state:

* resolved to the lowest-index area that contains it whole, when no lower-index area is
  partial there (answered by lookup);
* empty, when no area can match (answered by lookup);
* mixed, with the short list of areas to test exactly, in file order, and for each of them
  the few segments a point of that cell can need (:mod:`onshore.geo._edges`): those that can
  cross its ray, and those that can be its nearest within the buffer.

The cell size trades build time and memory for lookup speed only mildly (measured on the
bench's dense workload: 250 m → 10.7, 50 m → 10.2 M points/s a thread, but 10× the build
time), so the default is coarse: the median area's size over 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from onshore.geo._exact import Segments
from onshore.geo.ellipsoid import metres_per_degree

MAX_CELLS = 1 << 23
"""Upper bound on the grid's cells (state array: 4 bytes a cell)."""
MAX_CLASSIFIED = 1 << 28
"""Upper bound on (cell, area) classifications at build time (compiled build)."""
MAX_CLASSIFIED_NUMPY = 1 << 21
"""The same bound for the NumPy build, which is about 30 times slower per classification."""
BLOCK_CELLS = 1 << 22
"""Classifications held in memory at once."""
CELLS_PER_AREA = 6.0
"""Default cell size: the median area's size over this."""


@dataclass(frozen=True)
class CellGrid:
    """Cell states and candidate lists; see the module docstring and ``finish_grid``."""

    x0: float
    y0: float
    cw: float
    ch: float
    nx: int
    ny: int
    state: NDArray[np.int32]
    start: NDArray[np.int64]
    cand: NDArray[np.int32]
    estart: NDArray[np.int64]
    npar: NDArray[np.int32]
    edges: NDArray[np.int32]

    @property
    def has_edges(self) -> bool:
        """Whether the per-cell edge lists the compiled lookup needs were built."""
        return bool(self.estart.size == self.cand.size + 1)

    @property
    def nbytes(self) -> int:
        """Memory held by the grid's arrays."""
        arrays = (self.state, self.start, self.cand, self.estart, self.npar, self.edges)
        return int(sum(a.nbytes for a in arrays))

    def stats(self) -> dict[str, float]:
        """Share of resolved, empty and mixed cells, and the mean candidates of a mixed cell."""
        n = self.state.size
        mixed = int((self.state <= -2).sum())
        return {
            "cells": n,
            "resolved": float((self.state >= 0).sum()) / n,
            "empty": float((self.state == -1).sum()) / n,
            "mixed": mixed / n,
            "candidates_per_mixed": self.cand.size / max(mixed, 1),
        }


def default_cell_m(bounds: NDArray[np.float64]) -> float:
    """A cell size in metres from the areas' (expanded) boxes: the median size over 6."""
    mid = 0.5 * (bounds[:, 1] + bounds[:, 3])
    kx, ky = metres_per_degree(mid)
    size = np.maximum((bounds[:, 2] - bounds[:, 0]) * kx, (bounds[:, 3] - bounds[:, 1]) * ky)
    return max(float(np.median(size)) / CELLS_PER_AREA, 1.0)


@dataclass(frozen=True)
class _GridShape:
    """Grid geometry and each area's expanded box in cells (origin ix0, iy0; w x h cells)."""

    x0: float
    y0: float
    cw: float
    ch: float
    nx: int
    ny: int
    ix0: NDArray[np.int64]
    iy0: NDArray[np.int64]
    w: NDArray[np.int64]
    h: NDArray[np.int64]

    @property
    def per(self) -> NDArray[np.int64]:
        """Cells in each area's box."""
        return self.w * self.h


def grid_shape(
    bounds: NDArray[np.float64], cell_m: float | None, max_classified: int = MAX_CLASSIFIED
) -> _GridShape:
    """Lay the grid over the expanded boxes, growing cells until the bounds are met."""
    x0, y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
    x1, y1 = float(bounds[:, 2].max()), float(bounds[:, 3].max())
    kx, ky = (float(v) for v in metres_per_degree(np.clip(0.5 * (y0 + y1), -89.0, 89.0)))
    cm = default_cell_m(bounds) if cell_m is None else float(cell_m)
    while True:
        cw, ch = cm / kx, cm / ky
        nx = int((x1 - x0) / cw) + 1
        ny = int((y1 - y0) / ch) + 1

        def cells(v: NDArray[np.float64], o: float, c: float, m: int) -> NDArray[np.int64]:
            return np.clip(np.floor((v - o) / c), 0, m - 1).astype(np.int64)

        ix0 = cells(bounds[:, 0], x0, cw, nx)
        iy0 = cells(bounds[:, 1], y0, ch, ny)
        w = cells(bounds[:, 2], x0, cw, nx) - ix0 + 1
        h = cells(bounds[:, 3], y0, ch, ny) - iy0 + 1
        if nx * ny <= MAX_CELLS and int((w * h).sum()) <= max_classified:
            return _GridShape(x0, y0, cw, ch, nx, ny, ix0, iy0, w, h)
        cm *= 1.5


def build_grid(
    segments: Segments,
    bounds: NDArray[np.float64],
    buffer_m: NDArray[np.float64],
    cell_m: float | None = None,
    *,
    compiled: bool = True,
) -> CellGrid:
    """Build the classified grid, with the numba kernels or (``compiled=False``) in NumPy."""
    shape = grid_shape(bounds, cell_m, MAX_CLASSIFIED if compiled else MAX_CLASSIFIED_NUMPY)
    if not compiled:
        from onshore.geo._grid_numpy import classify_numpy

        state, start, cand = classify_numpy(shape, segments, buffer_m)
        none = np.zeros(0, dtype=np.int32)
        return CellGrid(
            shape.x0, shape.y0, shape.cw, shape.ch, shape.nx, shape.ny,
            state, start, cand, np.zeros(0, dtype=np.int64), none, none,
        )  # fmt: skip
    return _build_compiled(shape, segments, buffer_m)


def _build_compiled(
    shape: _GridShape, segments: Segments, buffer_m: NDArray[np.float64]
) -> CellGrid:
    from onshore.geo import _kernels as k
    from onshore.geo._edges import cell_edges

    n = shape.ix0.size
    x0, y0, cw, ch, nx = shape.x0, shape.y0, shape.cw, shape.ch, shape.nx
    ix0, iy0, w, h, per = shape.ix0, shape.iy0, shape.w, shape.h, shape.per
    args = (segments.start, segments.x0, segments.y0, segments.x1, segments.y1)
    first_in = np.full(nx * shape.ny, -1, dtype=np.int32)
    pair_cell = np.empty(max(1024, n * 8), dtype=np.int64)
    pair_area = np.empty(pair_cell.size, dtype=np.int32)
    npairs = 0
    lo = 0
    cum = np.cumsum(per)
    while lo < n:
        base = int(cum[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + BLOCK_CELLS, side="right")))
        areas = np.arange(lo, hi, dtype=np.int64)
        offset = np.zeros(hi - lo, dtype=np.int64)
        np.cumsum(per[lo : hi - 1], out=offset[1:])
        cls = np.empty(int(per[lo:hi].sum()), dtype=np.uint8)
        k.classify_block(
            areas, ix0[lo:hi], iy0[lo:hi], w[lo:hi], h[lo:hi], offset, x0, y0, cw, ch,
            *args, buffer_m, cls,
        )  # fmt: skip
        need = npairs + int(np.count_nonzero(cls == k.PARTIAL))
        if need > pair_cell.size:
            size = max(need, 2 * pair_cell.size)
            pair_cell = np.resize(pair_cell, size)
            pair_area = np.resize(pair_area, size)
        npairs = k.combine_block(
            areas, ix0[lo:hi], iy0[lo:hi], w[lo:hi], h[lo:hi], offset, nx, cls,
            first_in, pair_cell, pair_area, npairs,
        )  # fmt: skip
        lo = hi
    state, start, cand, slot_of = k.finish_grid(first_in, pair_cell[:npairs], pair_area[:npairs])
    del first_in, pair_cell, pair_area
    estart, npar, edges = cell_edges(
        slot_of, start, cand, nx, x0, y0, cw, ch, *args, buffer_m
    )  # fmt: skip
    return CellGrid(x0, y0, cw, ch, nx, shape.ny, state, start, cand, estart, npar, edges)
