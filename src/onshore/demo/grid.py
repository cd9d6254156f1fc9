"""The demo city: a Manhattan-like road grid laid over the Beijing area, and routes on it.

Everything is planned in a local plane (metres east ``x`` and north ``y`` of the south-west
corner) and converted to WGS-84 degrees only when written. Roads run along every multiple of
:data:`GRID_M`; every :data:`ARTERIAL_EVERY`-th road is an arterial that routes prefer, so that
traffic concentrates on a few corridors the way it does in a real city.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from onshore.geo.ellipsoid import metres_per_degree

LON0, LAT0 = 116.1, 39.7
"""South-west corner of the demo area (degrees)."""
LON1, LAT1 = 116.7, 40.1
"""North-east corner of the demo area (degrees)."""
GRID_M = 500.0
"""Road spacing in metres."""
ARTERIAL_EVERY = 4
"""Every fourth road is an arterial (2 km apart)."""

_KX, _KY = (float(k) for k in metres_per_degree((LAT0 + LAT1) / 2))
WIDTH_M = (LON1 - LON0) * _KX
HEIGHT_M = (LAT1 - LAT0) * _KY


def to_lonlat(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Local metres to (lon, lat) degrees (equirectangular about the area's mid-latitude)."""
    return LON0 + np.asarray(x) / _KX, LAT0 + np.asarray(y) / _KY


def to_local(lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) degrees to local metres."""
    return (lon - LON0) * _KX, (lat - LAT0) * _KY


@dataclass(frozen=True)
class Place:
    """A point on a road: ``vertical`` is True when it lies on a north-south road."""

    x: float
    y: float
    vertical: bool


def snap_place(x: float, y: float, vertical: bool) -> Place:
    """The point of the nearest road in the given direction, kept inside the area."""
    margin = 2 * GRID_M
    x = float(np.clip(x, margin, WIDTH_M - margin))
    y = float(np.clip(y, margin, HEIGHT_M - margin))
    if vertical:
        x = round(x / GRID_M) * GRID_M
    else:
        y = round(y / GRID_M) * GRID_M
    return Place(x, y, vertical)


def random_place_near(
    rng: np.random.Generator, x: float, y: float, spread_m: float, min_m: float = 0.0
) -> Place:
    """A road point at a normally distributed offset (at least ``min_m``) from (x, y)."""
    angle = rng.uniform(0, 2 * np.pi)
    dist = max(min_m, abs(rng.normal(0, spread_m)))
    return snap_place(x + dist * np.cos(angle), y + dist * np.sin(angle), bool(rng.random() < 0.5))


def _corners(p: Place) -> tuple[tuple[float, float], ...]:
    """The intersections at both ends of the road block ``p`` lies on."""
    if p.vertical:
        lo, hi = np.floor(p.y / GRID_M) * GRID_M, np.ceil(p.y / GRID_M) * GRID_M
        return ((p.x, float(lo)), (p.x, float(hi))) if hi > lo else ((p.x, float(lo)),)
    lo, hi = np.floor(p.x / GRID_M) * GRID_M, np.ceil(p.x / GRID_M) * GRID_M
    return ((float(lo), p.y), (float(hi), p.y)) if hi > lo else ((float(lo), p.y),)


def _arterial(near: float, other: float) -> float:
    """The arterial line between ``near`` and ``other`` closest to ``near``; ``near`` itself
    when none lies between (routes never double back to reach an arterial)."""
    g = GRID_M * ARTERIAL_EVERY
    lo, hi = sorted((near, other))
    first, last = np.ceil(lo / g - 1e-9), np.floor(hi / g + 1e-9)
    if first > last:
        return near
    return float((first if near <= other else last) * g)


def _between(
    a: tuple[float, float], b: tuple[float, float], x_first: bool
) -> list[tuple[float, float]]:
    """Corners from intersection ``a`` to intersection ``b``: an L for short hops, else via an
    arterial in each direction."""
    (ax, ay), (bx, by) = a, b
    if abs(bx - ax) + abs(by - ay) < ARTERIAL_EVERY * GRID_M:
        return [(bx, ay)] if x_first else [(ax, by)]
    if x_first:
        yr, xc = _arterial(ay, by), _arterial(bx, ax)
        return [(ax, yr), (xc, yr), (xc, by)]
    xc, yr = _arterial(ax, bx), _arterial(by, ay)
    return [(xc, ay), (xc, yr), (bx, yr)]


def plan_route(origin: Place, dest: Place, rng: np.random.Generator) -> NDArray[np.float64]:
    """Waypoints (k, 2) in metres from ``origin`` to ``dest`` along roads, via arterials.

    Each end leaves its road block by the corner that gives the shorter route. Only corners
    are returned (collinear points are dropped), so each consecutive pair is one straight leg.
    """
    o, d = (origin.x, origin.y), (dest.x, dest.y)
    same_road = origin.vertical == dest.vertical and (
        origin.x == dest.x if origin.vertical else origin.y == dest.y
    )
    if same_road and abs(o[0] - d[0]) + abs(o[1] - d[1]) <= ARTERIAL_EVERY * GRID_M:
        return simplify(np.array([o, d], dtype=np.float64))
    x_first = bool(rng.random() < 0.5)
    best: NDArray[np.float64] | None = None
    best_len = np.inf
    for a in _corners(origin):
        for b in _corners(dest):
            pts = simplify(np.array([o, a, *_between(a, b, x_first), b, d], dtype=np.float64))
            length = float(np.abs(np.diff(pts, axis=0)).sum())
            if length < best_len - 1e-6:
                best, best_len = pts, length
    assert best is not None
    return best


def simplify(pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Drop repeated points and the middle of straight runs (keeps U-turns)."""
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(pts, axis=0)) > 1e-6, axis=1)
    pts = pts[keep]
    if len(pts) < 3:
        return pts if len(pts) >= 2 else np.vstack([pts, pts])
    d = np.diff(pts, axis=0)
    u = d / np.linalg.norm(d, axis=1, keepdims=True)
    straight = np.einsum("ij,ij->i", u[:-1], u[1:]) > 1 - 1e-9
    keep = np.ones(len(pts), dtype=bool)
    keep[1:-1] = ~straight
    return pts[keep]


def route_edges(pts: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The unit road edges a route covers (at least half), as (ix, iy) of each edge's midpoint
    in half-grid units; horizontal edges have odd ix, vertical ones odd iy."""
    xs, ys = [], []
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if abs(y1 - y0) < 1e-6:  # horizontal leg
            lo, hi = sorted((x0, x1))
            i = np.arange(np.ceil(lo / GRID_M - 0.5), np.floor(hi / GRID_M - 0.5) + 1)
            xs.append(2 * i + 1)
            ys.append(np.full(i.size, round(2 * y0 / GRID_M)))
        else:
            lo, hi = sorted((y0, y1))
            i = np.arange(np.ceil(lo / GRID_M - 0.5), np.floor(hi / GRID_M - 0.5) + 1)
            ys.append(2 * i + 1)
            xs.append(np.full(i.size, round(2 * x0 / GRID_M)))
    if not xs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(xs).astype(np.int64), np.concatenate(ys).astype(np.int64)
