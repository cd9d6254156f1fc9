"""WGS-84 ellipsoid: metres per degree of longitude and latitude at a given latitude.

Buffers are true metres at the point's latitude: around a point at latitude φ, a degree of
latitude spans the meridional radius of curvature M(φ)·π/180 metres and a degree of longitude
spans the prime-vertical radius N(φ)·cos φ·π/180 metres. Distances are then measured in that
local (equirectangular, tangent at the point) projection, which is exact to well under a
millimetre at the sizes of sensitive areas and their buffers (a few kilometres).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

WGS84_A = 6378137.0
"""Semi-major axis, metres."""
WGS84_F = 1.0 / 298.257223563
"""Flattening."""
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""First eccentricity squared."""

MIN_M_PER_DEG_LAT = np.pi / 180.0 * WGS84_A * (1.0 - WGS84_E2)
"""Metres per degree of latitude at the equator, the smallest anywhere (about 110,574 m)."""


def metres_per_degree(lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Metres per degree of longitude and of latitude at latitude ``lat`` (degrees).

    >>> kx, ky = metres_per_degree(0.0)
    >>> round(float(kx)), round(float(ky))
    (111319, 110574)
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    s = np.sin(phi)
    w2 = 1.0 - WGS84_E2 * s * s
    w = np.sqrt(w2)
    k = np.pi / 180.0 * WGS84_A
    kx = k * np.cos(phi) / w
    ky = k * (1.0 - WGS84_E2) / (w2 * w)
    return kx, ky
