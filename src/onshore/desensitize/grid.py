"""A grid of square cells measured in true metres on the WGS-84 ellipsoid.

Rows are bands of ``size_m`` metres of meridian arc from the equator; within a row, columns are
``size_m`` metres of parallel at the row's centre latitude. A point's cell is ``(row, col)`` and
:meth:`MetricGrid.snap` moves it to the cell's centre, so snapping twice equals snapping once.

>>> g = MetricGrid(1000.0)
>>> lon, lat = g.snap([116.3975], [39.9087])
>>> g.snap(lon, lat) == (lon, lat)
True
>>> round(float(g.max_displacement_m()))
708
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from onshore.geo.ellipsoid import WGS84_A, WGS84_E2, metres_per_degree

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_E4 = WGS84_E2 * WGS84_E2
_E6 = _E4 * WGS84_E2
_M0 = 1 - WGS84_E2 / 4 - 3 * _E4 / 64 - 5 * _E6 / 256
_M2 = 3 * WGS84_E2 / 8 + 3 * _E4 / 32 + 45 * _E6 / 1024
_M4 = 15 * _E4 / 256 + 45 * _E6 / 1024
_M6 = 35 * _E6 / 3072
_M_PER_DEGREE = 111_320.0  # metres per degree of latitude, or of longitude at the equator
_MIN_KX = 1.0  # metres per degree of longitude near the poles (keeps columns finite)


def meridian_arc(lat: ArrayLike) -> F64:
    """Metres of meridian from the equator to latitude ``lat`` (degrees), to well under 1 mm."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    arc: F64 = WGS84_A * (
        _M0 * phi - _M2 * np.sin(2 * phi) + _M4 * np.sin(4 * phi) - _M6 * np.sin(6 * phi)
    )
    return arc


def latitude_of_arc(arc: ArrayLike) -> F64:
    """The inverse of :func:`meridian_arc` (Newton's method)."""
    target = np.asarray(arc, dtype=np.float64)
    phi = target / (WGS84_A * _M0)
    for _ in range(4):
        s = np.sin(phi)
        radius = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s * s) ** 1.5
        phi = phi - (meridian_arc(np.degrees(phi)) - target) / radius
    return np.degrees(phi)


@dataclass(frozen=True)
class MetricGrid:
    """Square cells of ``size_m`` true metres."""

    size_m: float

    def cells(self, lon: ArrayLike, lat: ArrayLike) -> tuple[I64, I64]:
        """Row and column of each point (NaN positions give row and column 0; mask them)."""
        x = np.nan_to_num(np.asarray(lon, dtype=np.float64))
        y = np.nan_to_num(np.asarray(lat, dtype=np.float64))
        row = np.floor(meridian_arc(y) / self.size_m).astype(np.int64)
        kx = self._kx(row)
        col = np.floor(x * kx / self.size_m).astype(np.int64)
        return row, col

    def centres(self, row: ArrayLike, col: ArrayLike) -> tuple[F64, F64]:
        """Longitude and latitude of the centres of cells ``(row, col)``."""
        r = np.asarray(row, dtype=np.int64)
        c = np.asarray(col, dtype=np.int64)
        lat = latitude_of_arc((r + 0.5) * self.size_m)
        lon = (c + 0.5) * self.size_m / self._kx(r)
        return lon, lat

    def snap(self, lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
        """Each point moved to its cell's centre; NaN stays NaN."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        out_x, out_y = self.centres(*self.cells(x, y))
        bad = np.isnan(x) | np.isnan(y)
        out_x[bad] = np.nan
        out_y[bad] = np.nan
        return out_x, out_y

    @property
    def decimals(self) -> int:
        """Decimal places of a degree that hold a cell centre to 1/20 of the cell: a
        longitude or latitude rounded to them moves by at most ``size_m / 20`` (less than
        6 m for 500 m cells: 4 decimals), and distinct centres stay distinct.

        >>> MetricGrid(500).decimals, MetricGrid(1000).decimals, MetricGrid(100).decimals
        (4, 4, 5)
        """
        degrees = self.size_m / 10.0 / _M_PER_DEGREE  # 1/10 of the cell, in degrees of arc
        return max(0, int(np.ceil(-np.log10(degrees))))

    def round(self, values: ArrayLike) -> F64:
        """Degrees rounded to :attr:`decimals` (NaN stays NaN)."""
        rounded: F64 = np.round(np.asarray(values, dtype=np.float64), self.decimals).astype(
            np.float64
        )
        return rounded

    def max_displacement_m(self) -> float:
        """An upper bound on how far :meth:`snap` moves a point (half the cell diagonal, with
        a margin for the width of a cell changing across its row)."""
        return float(self.size_m * np.sqrt(0.5) * 1.001 + 0.01)

    def _kx(self, row: I64) -> F64:
        centre = latitude_of_arc((row + 0.5) * self.size_m)
        kx, _ = metres_per_degree(centre)
        return np.maximum(kx, _MIN_KX)
