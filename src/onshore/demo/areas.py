"""A fictional sensitive-area catalogue, placed at intersections the demo fleet really uses.

The intersections the planned trips drive through most are found first; areas are centred on
the busiest of them (at least 2 km apart) until about :data:`TARGET_SHARE` of the telemetry
points is expected inside an area or its buffer. Quiet areas in the middle of blocks, away
from the roads, make up the rest of a small catalogue. Every site is made up and says so in
its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onshore.demo.grid import GRID_M, HEIGHT_M, WIDTH_M, route_edges, to_lonlat
from onshore.demo.motion import Array
from onshore.demo.plan import Trip

TARGET_SHARE = 0.03
"""Share of telemetry points expected inside an area or its buffer."""
MIN_AREAS, MAX_AREAS = 7, 10
SPACING_M = 2000.0
SCALE = 1.3
"""Areas on busy roads are drawn this much larger than their templates."""


@dataclass(frozen=True)
class Template:
    """An area's shape around its centre: rings in (along, across) metres, and how far along
    a road through the centre the area and its buffer reach (for the expected share)."""

    kind: str
    name: str
    buffer_m: float | None
    admin_level: str | None
    parts: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    reach_m: float


def _rect(
    u0: float, u1: float, w0: float, w1: float, cw: bool = False
) -> tuple[tuple[float, float], ...]:
    c = 0.2 * min(u1 - u0, w1 - w0)  # chamfered corners: eight vertices
    ring = [(u0 + c, w0), (u1 - c, w0), (u1, w0 + c), (u1, w1 - c), (u1 - c, w1), (u0 + c, w1),
            (u0, w1 - c), (u0, w0 + c)]  # fmt: skip
    if cw:
        ring.reverse()
    return (*ring, ring[0])


ON_ROAD = (
    Template("military_zone", "Fictional Army Depot {n} (demo)", 150.0, None,
             ((_rect(-220, 220, -150, 170), _rect(60, 170, 50, 130, cw=True)),), 370.0),
    Template("defense_industry", "Fictional Aerospace Works {n} (demo)", 120.0, None,
             ((_rect(-150, 150, -110, 90),), (_rect(-100, 120, 220, 330),)), 270.0),
    # No buffer_m: the policy pack's default for government organs (100 m) applies.
    Template("government_organ", "Fictional Ministry Annex {n} (demo)", None, "national",
             ((_rect(-130, 130, -100, 110),),), 230.0),
    Template("military_zone", "Fictional Radar Station {n} (demo)", 200.0, None,
             ((_rect(-160, 160, -120, 120),),), 360.0),
    Template("defense_industry", "Fictional Munitions Institute {n} (demo)", 100.0, None,
             ((_rect(-170, 170, -140, 100),),), 270.0),
    Template("government_organ", "Fictional Provincial Affairs Office {n} (demo)", 60.0, "province",
             ((_rect(-120, 120, -90, 90),),), 180.0),
    Template("government_organ", "Fictional Prefecture Hall {n} (demo)", 60.0, "prefecture",
             ((_rect(-110, 110, -80, 100),),), 170.0),
    Template("military_zone", "Fictional Signals Barracks {n} (demo)", 150.0, None,
             ((_rect(-140, 140, -100, 120),),), 290.0),
)  # fmt: skip
QUIET = (
    Template("government_organ", "Fictional County Government Office {n} (demo)", None, "county",
             ((_rect(-100, 100, -90, 90),),), 0.0),
    Template("military_zone", "Fictional Training Ground {n} (demo)", 100.0, None,
             ((_rect(-110, 110, -100, 100),),), 0.0),
    Template("defense_industry", "Fictional Optics Laboratory {n} (demo)", 80.0, None,
             ((_rect(-120, 120, -110, 110),),), 0.0),
)  # fmt: skip
_ABBR = {"military_zone": "mz", "defense_industry": "di", "government_organ": "go"}


def _busy_corners(trips: Sequence[Trip]) -> tuple[Array, Array, Array]:
    """Intersections (metres) and about how many trips drive through each, busiest first."""
    ends = []
    for trip in trips:
        ix, iy = route_edges(trip.route)
        horizontal = ix % 2 == 1
        dx, dy = horizontal.astype(np.int64), (~horizontal).astype(np.int64)
        # Each unit edge touches the corners on either side of its midpoint.
        ends.append((ix - dx) * 1_000_000 + (iy - dy))
        ends.append((ix + dx) * 1_000_000 + (iy + dy))
    if not ends:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    uniq, counts = np.unique(np.concatenate(ends), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    uniq, counts = uniq[order], counts[order]
    x, y = (uniq // 1_000_000) * GRID_M / 2, (uniq % 1_000_000) * GRID_M / 2
    return x, y, counts / 2.0


def _feature(
    t: Template,
    n: int,
    k: int,
    centre: tuple[float, float],
    vertical: bool,
    rng: np.random.Generator,
    scale: float = 1.0,
) -> dict[str, Any]:
    cx, cy = centre
    polygons = []
    for part in t.parts:
        rings = []
        for ring in part:
            uw = np.array(ring) * scale + rng.uniform(-12, 12, (len(ring), 2)) * [1, 0.5]
            uw[-1] = uw[0]
            x, y = (cx - uw[:, 1], cy + uw[:, 0]) if vertical else (cx + uw[:, 0], cy + uw[:, 1])
            lon, lat = to_lonlat(x, y)
            rings.append(np.round(np.column_stack([lon, lat]), 7).tolist())
        polygons.append(rings)
    geometry: dict[str, Any] = (
        {"type": "Polygon", "coordinates": polygons[0]}
        if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons}
    )
    props: dict[str, Any] = {"id": f"demo-{_ABBR[t.kind]}-{k:02d}", "kind": t.kind,
                             "name": t.name.format(n=n)}  # fmt: skip
    if t.buffer_m is not None:
        props["buffer_m"] = t.buffer_m
    if t.admin_level is not None:
        props["admin_level"] = t.admin_level
    return {"type": "Feature", "properties": props, "geometry": geometry}


def make_areas(trips: Sequence[Trip], seed: int) -> dict[str, Any]:
    """The catalogue as a GeoJSON FeatureCollection (dict), deterministic for ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 5]))
    ex, ey, passes = _busy_corners(trips)
    points = sum(t.profile.duration_s + 1 for t in trips)
    moving = sum(t.profile.moving_s for t in trips)
    speed = sum(t.profile.length_m for t in trips) / max(moving, 1.0)
    centres: list[tuple[float, float]] = []
    features: list[dict[str, Any]] = []
    expected = 0.0
    for x, y, c in zip(ex, ey, passes, strict=True):
        if expected >= TARGET_SHARE * points or len(features) >= MAX_AREAS:
            break
        if any(abs(x - px) + abs(y - py) < SPACING_M for px, py in centres):
            continue
        t = ON_ROAD[len(features) % len(ON_ROAD)]
        vertical = bool(rng.random() < 0.5)
        features.append(
            _feature(t, int(rng.integers(2, 99)), len(features) + 1, (x, y), vertical, rng, SCALE)
        )
        centres.append((x, y))
        expected += c * 2 * t.reach_m * SCALE / speed
    tries = 0
    while (len(features) < MIN_AREAS or len(features) < 2) and tries < 1000:
        tries += 1
        x = (rng.integers(4, int(WIDTH_M / GRID_M) - 4) + 0.5) * GRID_M
        y = (rng.integers(4, int(HEIGHT_M / GRID_M) - 4) + 0.5) * GRID_M
        if any(abs(x - px) + abs(y - py) < SPACING_M for px, py in centres):
            continue
        # The first two areas carry the hole and the MultiPolygon, even off the roads.
        t = ON_ROAD[len(features)] if len(features) < 2 else QUIET[len(features) % len(QUIET)]
        features.append(
            _feature(t, int(rng.integers(2, 99)), len(features) + 1, (x, y), False, rng)
        )
        centres.append((x, y))
    return {"type": "FeatureCollection", "name": "onshore-demo-sensitive-areas (fictional)",
            "features": features}  # fmt: skip
