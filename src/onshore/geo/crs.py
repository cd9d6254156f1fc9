"""Coordinate systems: WGS-84 and GCJ-02 ("Mars coordinates"), vectorized.

Maps published for use in China (and many in-vehicle navigation units) give positions in
GCJ-02, an obfuscated datum derived from WGS-84 by a published smooth offset of up to a few
hundred metres. Points and areas must be in the same system before they are tested; Onshore
tests in WGS-84 and brings GCJ-02 points there with :func:`to_wgs84`.

By convention, points outside China's extent (lon 72.004–137.8347, lat 0.8293–55.8271) are
left unshifted. The forward offset is evaluated with a polynomial sine (pure arithmetic, which
the compiler vectorizes); the inverse is a fixed-point iteration accurate to well under a
centimetre (the contract is 0.5 m). With numba installed both run compiled on all cores;
without it, in NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from onshore.errors import BadInput

CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02")
"""Coordinate systems a ``crs`` column or option may name."""
INVERSE_ITERATIONS = 3
"""Fixed-point steps of the NumPy inverse (each gains about three orders of magnitude)."""
_PARALLEL_MIN = 1 << 16

F64 = NDArray[np.float64]


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
    """WGS-84 → GCJ-02. NaN stays NaN; points outside China's extent are unchanged.

    >>> x, y = wgs84_to_gcj02([116.397], [39.909])
    >>> round(float(x[0] - 116.397), 5), round(float(y[0] - 39.909), 5)
    (0.00624, 0.0014)
    """
    x, y = _arrays(lon, lat)
    out_x = np.empty_like(x)
    out_y = np.empty_like(y)
    _run("forward", x, y, out_x, out_y)
    return out_x, out_y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
    """GCJ-02 → WGS-84 (iterative inverse, error far below 0.5 m).

    >>> x, y = gcj02_to_wgs84(*wgs84_to_gcj02([116.397], [39.909]))
    >>> abs(float(x[0]) - 116.397) < 1e-9 and abs(float(y[0]) - 39.909) < 1e-9
    True
    """
    x, y = _arrays(lon, lat)
    out_x = np.empty_like(x)
    out_y = np.empty_like(y)
    _run("inverse", x, y, out_x, out_y)
    return out_x, out_y


def to_wgs84(
    lon: ArrayLike, lat: ArrayLike, crs: str | ArrayLike = "wgs84"
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Bring points to WGS-84: ``(lon, lat, invalid)``.

    ``crs`` is one name for all rows or one per row (``"wgs84"`` or ``"gcj02"``, any case;
    a null row means WGS-84). Invalid coordinates (NaN, ``|lon| > 180``, ``|lat| > 90``) come
    back as NaN and flagged. An unknown system raises :class:`~onshore.errors.BadInput`
    naming the first such row.

    >>> lon, lat, bad = to_wgs84([116.4, 200.0], [39.9, 0.0], ["gcj02", "wgs84"])
    >>> bad.tolist(), bool(lon[0] < 116.4), bool(np.isnan(lon[1]))
    ([False, True], True, True)
    """
    x, y = _arrays(lon, lat)
    invalid = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if isinstance(crs, str):
        name = _crs_name(crs, None)
        if name == "gcj02":
            x, y = gcj02_to_wgs84(x, y)
        else:
            x, y = x.copy(), y.copy()
    else:
        codes = _crs_codes(crs, x.size)
        x, y = x.copy(), y.copy()
        rows = np.flatnonzero(codes == 1)
        if rows.size:
            x[rows], y[rows] = gcj02_to_wgs84(x[rows], y[rows])
    x[invalid] = np.nan
    y[invalid] = np.nan
    return x, y, invalid


def _crs_name(value: Any, row: int | None) -> str:
    name = str(value).strip().lower().replace("-", "").replace("_", "")
    if name not in CRS_NAMES:
        raise BadInput(
            f"unknown coordinate system {value!r} (one of: {', '.join(CRS_NAMES)})",
            record=row,
            field="crs",
        )
    return name


def _crs_codes(crs: ArrayLike, n: int) -> NDArray[np.int8]:
    values = np.asarray(crs, dtype=object).reshape(-1)
    if values.size != n:
        raise ValueError(f"crs has {values.size} rows for {n} points")
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    table = np.zeros(uniques.size, dtype=np.int8)
    for i, value in enumerate(uniques):
        if value in ("None", "nan", ""):
            continue
        row = int(np.flatnonzero(inverse == i)[0])
        table[i] = CRS_NAMES.index(_crs_name(value, row))
    return table[inverse]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
    x = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
    y = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in length: {x.size} != {y.size}")
    return x, y


def _run(direction: str, x: F64, y: F64, out_x: F64, out_y: F64) -> None:
    kern = _kernels()
    if kern is None:
        fn: Callable[..., None] = _forward_numpy if direction == "forward" else _inverse_numpy
        fn(x, y, out_x, out_y)
        return
    parallel = x.size >= _PARALLEL_MIN
    if direction == "forward":
        (kern.forward_parallel if parallel else kern.forward)(x, y, out_x, out_y)
    else:
        (kern.inverse_parallel if parallel else kern.inverse)(x, y, out_x, out_y)


@cache
def _kernels() -> ModuleType | None:
    try:
        from onshore.geo import _crs_kernels as kern
    except ImportError:
        return None
    return kern


# --- NumPy engine (also the reference the compiled one is tested against) -------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 defines it
_EE = 0.00669342162296594323


def outside_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the convention leaves a point unshifted (outside China's rough extent)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return ~((x >= 72.004) & (x <= 137.8347) & (y >= 0.8293) & (y <= 55.8271))


def gcj02_offset(lon: F64, lat: F64) -> tuple[F64, F64]:
    """The GCJ-02 offset (degrees) at WGS-84 ``lon``, ``lat``, with NumPy's sine."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0
    rad = lat * (pi / 180.0)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sq) * pi)
    dlon = dlon * 180.0 / (_A / sq * np.cos(rad) * pi)
    return dlon, dlat


def _forward_numpy(x: F64, y: F64, out_x: F64, out_y: F64) -> None:
    dlon, dlat = gcj02_offset(x, y)
    keep = outside_china(x, y)
    out_x[:] = np.where(keep, x, x + dlon)
    out_y[:] = np.where(keep, y, y + dlat)


def _inverse_numpy(x: F64, y: F64, out_x: F64, out_y: F64) -> None:
    wx = x.copy()
    wy = y.copy()
    for _ in range(INVERSE_ITERATIONS):
        dlon, dlat = gcj02_offset(wx, wy)
        wx = x - dlon
        wy = y - dlat
    keep = outside_china(x, y)
    out_x[:] = np.where(keep, x, wx)
    out_y[:] = np.where(keep, y, wy)
