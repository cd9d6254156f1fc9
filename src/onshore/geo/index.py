"""The area index: built once from a catalogue, answers arrays of lon/lat points.

Matching rule
-------------
A point matches an area when it lies inside or on the area's polygon (holes excluded, every
part of a MultiPolygon counted) or when its distance to the polygon is at most the area's
``buffer_m``. Distances are true metres at the point's latitude: the polygon is measured in
the local projection at the point, with the WGS-84 ellipsoid's metres per degree of longitude
and latitude at that latitude (:mod:`onshore.geo.ellipsoid`).

When several areas match one point, the winner is, in order:

1. an area that contains the point beats one whose buffer merely reaches it;
2. among equals, the smaller distance to the polygon wins (0 for a containing area);
3. then the lower index, i.e. the area that comes first in the catalogue file.

:meth:`AreaIndex.lookup_all` gives every matching area, not only the winner.

Coordinates that are NaN or out of range (``|lat| > 90`` or ``|lon| > 180``) are flagged in
``AreaMatch.invalid`` and never matched.

How it runs
-----------
Two engines give the same answers (the oracle tests run both):

* **numba** (``pip install 'onshore[fast]'``): a classified cell grid
  (:mod:`onshore.geo.grid`) answers points in cells wholly inside one area or wholly out of
  reach by lookup; points in mixed cells are tested exactly against that cell's few
  candidates, and only against the segments that matter in that cell, in a compiled loop
  with no temporary arrays, spread over all cores for large batches
  (:mod:`onshore.geo._kernels`).
* **numpy** (always available): the same grid, built and queried in NumPy over chunks of
  points (memory stays bounded); points of mixed cells are tested exactly, as (point,
  candidate) pairs, against all the candidate's segments (:mod:`onshore.geo._grid_numpy`,
  :mod:`onshore.geo._exact`).
"""

from __future__ import annotations

import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from onshore.geo._exact import Segments, flatten_segments
from onshore.geo._grid_numpy import lookup_numpy
from onshore.geo.areas import AreaCatalogue
from onshore.geo.ellipsoid import MIN_M_PER_DEG_LAT, metres_per_degree
from onshore.geo.grid import CellGrid, build_grid
from onshore.geo.overlaps import AreaMatches, Overlaps, lookup_all, overlaps_of

PARALLEL_MIN_POINTS = 1 << 17
"""Batches at least this large are spread over all cores (compiled engine)."""
ADAPTIVE_SWITCH_S = 0.3
"""An ``"adaptive"`` index moves to the compiled engine once NumPy lookups took this long:
about what loading numba costs, so the job is never much slower than with either engine."""
_MARGIN = 1.0 + 1e-9
"""Relative safety margin on buffer-expanded boxes (they only prune; exactness is elsewhere)."""


@dataclass(frozen=True)
class AreaMatch:
    """Per-point answer of :meth:`AreaIndex.lookup`, as parallel NumPy arrays.

    ``area``: int32 index into ``catalogue.areas``, -1 when no area matches.
    ``inside``: True when the point is inside (or on) the polygon itself, not only its buffer.
    ``distance_m``: metres from the polygon when matched by its buffer, 0 when inside, NaN when
    there is no match. ``invalid``: NaN or out-of-range coordinates, never matched.
    """

    area: NDArray[np.int32]
    inside: NDArray[np.bool_]
    distance_m: NDArray[np.float64]
    invalid: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.area)


def expanded_bounds(catalogue: AreaCatalogue) -> NDArray[np.float64]:
    """Each area's bounding box grown by its buffer, in degrees, conservatively: (n, 4)."""
    n = len(catalogue)
    if n == 0:
        return np.zeros((0, 4))
    import shapely

    geoms = [a.geometry for a in catalogue.areas]
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    buf = np.array([a.buffer_m for a in catalogue.areas], dtype=np.float64) * _MARGIN
    dlat = buf / MIN_M_PER_DEG_LAT
    ymin = b[:, 1] - dlat
    ymax = b[:, 3] + dlat
    worst = np.minimum(np.maximum(np.abs(ymin), np.abs(ymax)), 90.0)
    kx, _ = metres_per_degree(worst)
    with np.errstate(divide="ignore"):
        dlon = np.where(buf > 0, buf / np.maximum(kx, 1e-300), 0.0)
    dlon = np.where(worst >= 89.999, 360.0, dlon)
    out = np.column_stack([b[:, 0] - dlon, ymin, b[:, 2] + dlon, ymax])
    pad = 1e-12 * np.maximum(1.0, np.abs(out))
    out[:, :2] -= pad[:, :2]
    out[:, 2:] += pad[:, 2:]
    return out


class AreaIndex:
    """A reusable, picklable index over an :class:`AreaCatalogue`.

    >>> from onshore.geo.areas import load_areas
    >>> cat = load_areas({"type": "FeatureCollection", "features": [{"type": "Feature",
    ...     "properties": {"id": "a", "kind": "military_zone", "name": "A", "buffer_m": 100},
    ...     "geometry": {"type": "Polygon", "coordinates": [[[116, 39], [116.1, 39],
    ...                                                       [116.1, 39.1], [116, 39]]]}}]})
    >>> m = AreaIndex.build(cat).lookup(np.array([116.08, 116.1005, 0.0]),
    ...                                 np.array([39.01, 39.05, 0.0]))
    >>> m.area.tolist(), m.inside.tolist()
    ([0, 0, -1], [True, False, False])
    """

    catalogue: AreaCatalogue

    def __init__(
        self,
        catalogue: AreaCatalogue,
        segments: Segments,
        bounds: NDArray[np.float64],
        buffer_m: NDArray[np.float64],
        cells: CellGrid | None,
    ) -> None:
        self.catalogue = catalogue
        self.segments = segments
        self.bounds = bounds
        self.buffer_m = buffer_m
        self.cells = cells
        self._adaptive: _Adaptive | None = None
        self._overlaps: Overlaps | None = None

    @property
    def engine(self) -> str:
        """``"numba"`` when lookups run the compiled kernel, else ``"numpy"``."""
        if self._adaptive is not None:
            return "numpy"
        compiled = self.cells is not None and self.cells.has_edges and _kernels() is not None
        return "numba" if compiled else "numpy"

    @classmethod
    def build(
        cls, catalogue: AreaCatalogue, *, engine: str = "auto", cell_m: float | None = None
    ) -> AreaIndex:
        """Build the index once; reuse it for every batch (it pickles).

        ``engine``: ``"auto"`` (compiled when numba is installed, else NumPy), ``"numba"``,
        ``"numpy"`` or ``"adaptive"``: NumPy until its lookups have taken
        ``ADAPTIVE_SWITCH_S`` seconds, then compiled (when numba is installed), so a job too
        small to repay loading numba (about half a second) never loads it; the answers are
        the same either way. ``cell_m``: the grid's cell size in metres (default: the median
        area's size over 6).
        """
        if engine not in ("auto", "numba", "numpy", "adaptive"):
            raise ValueError(f"unknown engine {engine!r} (auto, numba, numpy, adaptive)")
        if engine == "numba" and _kernels() is None:
            raise ValueError("engine 'numba' needs numba: pip install 'onshore[fast]'")
        segments = flatten_segments([a.geometry for a in catalogue.areas])
        bounds = expanded_bounds(catalogue)
        buffer_m = np.array([a.buffer_m for a in catalogue.areas], dtype=np.float64)
        cells = None
        adaptive = engine == "adaptive" and len(catalogue) > 0 and _have_numba()
        if len(catalogue):
            compiled = engine in ("auto", "numba") and _kernels() is not None
            cells = build_grid(segments, bounds, buffer_m, cell_m, compiled=compiled)
        index = cls(catalogue, segments, bounds, buffer_m, cells)
        if adaptive:
            index._adaptive = _Adaptive(cell_m)
        return index

    def lookup(self, lon: ArrayLike, lat: ArrayLike) -> AreaMatch:
        """Match each point (``lon[i]``, ``lat[i]``) to an area by the rule in the module doc."""
        x = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
        y = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
        if x.shape != y.shape:
            raise ValueError(f"lon and lat differ in length: {x.size} != {y.size}")
        n = x.size
        area = np.full(n, -1, dtype=np.int32)
        inside = np.zeros(n, dtype=bool)
        dist = np.full(n, np.nan, dtype=np.float64)
        g = self.cells
        if self._adaptive is not None:
            return self._lookup_adaptive(x, y, (area, inside, dist))
        kern = _kernels()
        if self.engine == "numba" and g is not None and kern is not None:
            invalid = np.zeros(n, dtype=bool)
            self._lookup_compiled(kern, g, x, y, area, inside, dist, invalid)
            return AreaMatch(area=area, inside=inside, distance_m=dist, invalid=invalid)
        invalid = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
        if g is not None:
            lookup_numpy(g, self, x, y, (area, inside, dist, invalid))
        return AreaMatch(area=area, inside=inside, distance_m=dist, invalid=invalid)

    def lookup_all(self, lon: ArrayLike, lat: ArrayLike) -> AreaMatches:
        """Every area each point is in or within the buffer of, the winner first: overlapping
        areas each name the point (:mod:`onshore.geo.overlaps`)."""
        x = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
        y = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
        if self._overlaps is None:
            self._overlaps = overlaps_of(self)
        return lookup_all(self, x, y, self._overlaps)

    def _lookup_adaptive(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        out: tuple[NDArray[np.int32], NDArray[np.bool_], NDArray[np.float64]],
    ) -> AreaMatch:
        """NumPy lookups, timed; past ``ADAPTIVE_SWITCH_S`` the compiled grid takes over."""
        state = self._adaptive
        assert state is not None and self.cells is not None
        area, inside, dist = out
        start = time.perf_counter()
        invalid = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
        lookup_numpy(self.cells, self, x, y, (area, inside, dist, invalid))
        state.seconds += time.perf_counter() - start
        if state.seconds >= ADAPTIVE_SWITCH_S:
            self._adaptive = None
            if _kernels() is not None:
                self.cells = build_grid(
                    self.segments, self.bounds, self.buffer_m, state.cell_m, compiled=True
                )
        return AreaMatch(area=area, inside=inside, distance_m=dist, invalid=invalid)

    def _lookup_compiled(
        self,
        kern: ModuleType,
        g: CellGrid,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        *out: NDArray[Any],
    ) -> None:
        s = self.segments
        args = (
            x, y, g.x0, g.y0, 1.0 / g.cw, 1.0 / g.ch, g.nx, g.ny, g.state, g.start, g.cand,
            g.estart, g.npar, g.edges, s.x0, s.y0, s.x1, s.y1, self.buffer_m, self.bounds, *out,
        )  # fmt: skip
        n = x.size
        threads = kern.numba.get_num_threads()
        if n < PARALLEL_MIN_POINTS or threads < 2:
            kern.lookup_range(0, n, *args)
            return
        # Dynamic scheduling over a thread pool (the kernel releases the GIL): on a shared
        # machine a busy core then delays one chunk, not half the batch.
        step = max(PARALLEL_MIN_POINTS // 2, -(-n // (16 * threads)))
        pool = _pool(threads)
        jobs = [
            pool.submit(kern.lookup_range, lo, min(n, lo + step), *args) for lo in range(0, n, step)
        ]
        for job in jobs:
            job.result()


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """One shared pool per thread count, created on first use."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="onshore-geo")


@dataclass
class _Adaptive:
    """An ``"adaptive"`` index still on NumPy: the grid's cell size, seconds spent so far."""

    cell_m: float | None
    seconds: float = 0.0


@cache
def _have_numba() -> bool:
    """Whether numba is installed, without importing it (importing it takes ~0.2 s)."""
    return importlib.util.find_spec("numba") is not None


@cache
def _kernels() -> ModuleType | None:
    """The compiled kernels, or None when numba is not installed."""
    try:
        from onshore.geo import _kernels as kern
    except ImportError:
        return None
    return kern
