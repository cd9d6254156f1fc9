# mypy: disable-error-code="no-untyped-def"
"""Compiled (numba) GCJ-02 kernels; see :mod:`onshore.geo.crs` for the conventions.

The offset needs ten sines a point. ``_sin`` is a pure-arithmetic sine (reduction by π,
then an odd Taylor polynomial to degree 19 on [-π/2, π/2], error below 1e-13), which LLVM
vectorizes, unlike calls into libm; triple-angle identities share the rest.
"""

from __future__ import annotations

import math

import numba
from numba import prange

_A = 6378245.0
_EE = 0.00669342162296594323
_PI = math.pi
_PI_LO = 1.2246467991473532e-16
_INV_PI = 1.0 / math.pi
_C = (
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362880.0,
    -1.0 / 39916800.0,
    1.0 / 6227020800.0,
    -1.0 / 1307674368000.0,
    1.0 / 355687428096000.0,
    -1.0 / 121645100408832000.0,
)


@numba.njit(cache=True, inline="always")
def _sin(t: float) -> float:
    k = math.floor(t * _INV_PI + 0.5)
    r = (t - k * _PI) - k * _PI_LO
    r2 = r * r
    p = _C[8]
    p = p * r2 + _C[7]
    p = p * r2 + _C[6]
    p = p * r2 + _C[5]
    p = p * r2 + _C[4]
    p = p * r2 + _C[3]
    p = p * r2 + _C[2]
    p = p * r2 + _C[1]
    p = p * r2 + _C[0]
    s = r + r * r2 * p
    half = k * 0.5
    return -s if half != math.floor(half) else s


@numba.njit(cache=True, inline="always")
def _offset(lon: float, lat: float) -> tuple[float, float]:
    x = lon - 105.0
    y = lat - 35.0
    s2x = _sin(2.0 * _PI * x)
    s6x = s2x * (3.0 - 4.0 * s2x * s2x)
    sx3 = _sin(_PI * x / 3.0)
    sx = sx3 * (3.0 - 4.0 * sx3 * sx3)
    sy3 = _sin(_PI * y / 3.0)
    sy = sy3 * (3.0 - 4.0 * sy3 * sy3)
    common = (20.0 * s6x + 20.0 * s2x) * (2.0 / 3.0)
    rx = math.sqrt(abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * rx + common
    dlat += (20.0 * sy + 40.0 * sy3) * (2.0 / 3.0)
    dlat += (160.0 * _sin(_PI * y / 12.0) + 320.0 * _sin(_PI * y / 30.0)) * (2.0 / 3.0)
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * rx + common
    dlon += (20.0 * sx + 40.0 * sx3) * (2.0 / 3.0)
    dlon += (150.0 * _sin(_PI * x / 12.0) + 300.0 * _sin(_PI * x / 30.0)) * (2.0 / 3.0)
    rad = lat * (_PI / 180.0)
    sr = _sin(rad)
    cr = _sin(rad + 0.5 * _PI)
    magic = 1.0 - _EE * sr * sr
    sq = math.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sq) * _PI)
    dlon = dlon * 180.0 / (_A / sq * cr * _PI)
    return dlon, dlat


@numba.njit(cache=True, inline="always")
def _inside(lon: float, lat: float) -> bool:
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


@numba.njit(cache=True, inline="always")
def _fwd_one(x: float, y: float) -> tuple[float, float]:
    if not _inside(x, y):
        return x, y
    dx, dy = _offset(x, y)
    return x + dx, y + dy


@numba.njit(cache=True, inline="always")
def _inv_one(x: float, y: float) -> tuple[float, float]:
    if not _inside(x, y):
        return x, y
    # Fixed-point steps w = g - offset(w); each gains about three orders of magnitude, so
    # three leave well under a millimetre.
    dx, dy = _offset(x, y)
    dx, dy = _offset(x - dx, y - dy)
    dx, dy = _offset(x - dx, y - dy)
    return x - dx, y - dy


@numba.njit(cache=True, nogil=True)
def forward(x, y, ox, oy):
    """WGS-84 → GCJ-02 into ``ox``, ``oy`` (one thread)."""
    for i in range(x.size):
        ox[i], oy[i] = _fwd_one(x[i], y[i])


@numba.njit(cache=True, parallel=True)
def forward_parallel(x, y, ox, oy):
    """WGS-84 → GCJ-02 into ``ox``, ``oy`` (all threads)."""
    for i in prange(x.size):
        ox[i], oy[i] = _fwd_one(x[i], y[i])


@numba.njit(cache=True, nogil=True)
def inverse(x, y, ox, oy):
    """GCJ-02 → WGS-84 into ``ox``, ``oy`` (one thread)."""
    for i in range(x.size):
        ox[i], oy[i] = _inv_one(x[i], y[i])


@numba.njit(cache=True, parallel=True)
def inverse_parallel(x, y, ox, oy):
    """GCJ-02 → WGS-84 into ``ox``, ``oy`` (all threads)."""
    for i in prange(x.size):
        ox[i], oy[i] = _inv_one(x[i], y[i])
