"""Random sensitive-area scenes and points near their edges and buffers, for the oracle tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from onshore.geo import AreaCatalogue
from onshore.geo.areas import Area
from onshore.geo.ellipsoid import metres_per_degree

TIE_M = 1e-6


def star(rng: np.random.Generator, cx: float, cy: float, r: float, n: int) -> np.ndarray:
    """A star-shaped ring (metres) around (cx, cy): the centre lies in its kernel."""
    step = 2 * math.pi / n
    ang = rng.uniform(0, 2 * math.pi) + step * (np.arange(n) + rng.uniform(-0.3, 0.3, n))
    rad = r * rng.uniform(0.5, 1.0, n)
    return np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)])


@st.composite
def scenes(draw: Any) -> tuple[AreaCatalogue, np.ndarray, np.ndarray]:
    """A catalogue of 1-4 areas (holes, multipolygons, buffers) and points near their edges."""
    lat0 = draw(st.sampled_from([39.9, 0.3, -33.9, 61.2, 78.5]))
    lon0 = draw(st.sampled_from([116.4, -70.0, 12.5]))
    seed = draw(st.integers(0, 2**32 - 1))
    n_areas = draw(st.integers(1, 4))
    shapes = [
        draw(st.sampled_from(["plain", "hole", "multi", "multi-hole"])) for _ in range(n_areas)
    ]
    buffers = [draw(st.sampled_from([0.0, 0.0, 1.0, 37.5, 400.0, 2500.0])) for _ in range(n_areas)]
    rng = np.random.default_rng(seed)
    kx0, ky0 = (float(v) for v in metres_per_degree(lat0))

    def deg(ring: np.ndarray) -> np.ndarray:
        return np.column_stack([lon0 + ring[:, 0] / kx0, lat0 + ring[:, 1] / ky0])

    def part(cx: float, cy: float, r: float, hole: bool) -> Polygon:
        outer = star(rng, cx, cy, r, int(rng.integers(4, 14)))
        holes = []
        if hole:
            s = rng.uniform(0.1, 0.8)
            holes.append(deg(np.column_stack([cx, cy]) + s * (outer - [cx, cy])))
        return Polygon(deg(outer), holes)

    areas = []
    for i, (kind, buf) in enumerate(zip(shapes, buffers, strict=True)):
        cx, cy = rng.uniform(-2000, 2000, 2)
        r = float(rng.uniform(30, 1500))
        geom: Polygon | MultiPolygon = part(cx, cy, r, kind in ("hole", "multi-hole"))
        if kind.startswith("multi"):
            r2 = float(rng.uniform(30, 1500))
            a = rng.uniform(0, 2 * math.pi)
            d = (r + r2) * 1.2
            geom = MultiPolygon([geom, part(cx + d * math.cos(a), cy + d * math.sin(a), r2, False)])
        assert geom.is_valid
        areas.append(Area(f"a{i}", "military_zone", f"area {i}", buf, None, geom))
    cat = AreaCatalogue(tuple(areas), None)
    lon, lat = near_points(rng, cat, 60)
    return cat, lon, lat


def near_points(
    rng: np.random.Generator, cat: AreaCatalogue, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points within a metre of edges, of buffer lines, on vertices, and at random."""
    lon, lat = [], []
    for _ in range(n):
        area = cat.areas[int(rng.integers(len(cat.areas)))]
        ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(area.geometry)))
        j = int(rng.integers(len(ring) - 1))
        (ax, ay), (bx, by) = ring[j], ring[j + 1]
        mode = rng.integers(4)
        t = 0.0 if mode == 0 else rng.uniform(0, 1)
        x, y = ax + t * (bx - ax), ay + t * (by - ay)
        kx, ky = (float(v) for v in metres_per_degree(y))
        ex, ey = (bx - ax) * kx, (by - ay) * ky
        norm = math.hypot(ex, ey) or 1.0
        nx, ny = -ey / norm, ex / norm
        if mode == 1:
            off = rng.uniform(-1, 1)
        elif mode == 2:
            off = rng.choice([-1, 1]) * (area.buffer_m + rng.uniform(-1, 1))
        elif mode == 3:
            off = rng.uniform(-3000, 3000)
        else:
            off = 0.0
        lon.append(x + off * nx / kx)
        lat.append(y + off * ny / ky)
    return np.array(lon), np.array(lat)


def oracle(cat: AreaCatalogue, lon: float, lat: float) -> tuple[int, bool, float, bool]:
    """Shapely's answer for one point: (area, inside, distance, ambiguous)."""
    kx, ky = (float(v) for v in metres_per_degree(lat))
    origin = Point(0.0, 0.0)
    hits = []
    ambiguous = False
    for i, area in enumerate(cat.areas):
        local = shapely.transform(area.geometry, lambda c: (c - [lon, lat]) * [kx, ky])
        d = float(shapely.distance(local.boundary, origin))
        cov = bool(shapely.covers(local, origin))
        if d < TIE_M or abs(d - area.buffer_m) < TIE_M:
            ambiguous = True
        if cov or d <= area.buffer_m:
            hits.append((not cov, 0.0 if cov else d, i))
    if not hits:
        return -1, False, math.nan, ambiguous
    hits.sort()
    outside = [h for h in hits if h[0]]
    if not hits[0][0] and len(hits) - len(outside) > 1:
        pass  # several containing areas: lowest index wins, no distance to compare
    elif len(hits) > 1 and hits[0][0] and abs(hits[1][1] - hits[0][1]) < TIE_M:
        ambiguous = True
    best = hits[0]
    return best[2], not best[0], best[1], ambiguous
