"""A plain row-by-row reference classifier: slow, obvious, and independent of the Arrow kernels.

Used only as the oracle of the property tests; areas are matched with shapely in local metres.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import Point

from onshore.geo import AreaCatalogue
from onshore.geo.ellipsoid import metres_per_degree
from onshore.model import Level
from onshore.packs import Pack


def _match_area(lon: float, lat: float, catalogue: AreaCatalogue) -> int:
    kx, ky = (float(v) for v in metres_per_degree(lat))
    best: tuple[int, float, int] | None = None  # (0 inside / 1 buffer, distance, index)
    for i, area in enumerate(catalogue.areas):
        local = shapely.transform(area.geometry, lambda c: (c - [lon, lat]) * [kx, ky])
        origin = Point(0.0, 0.0)
        if shapely.covers(local, origin):
            key = (0, 0.0, i)
        else:
            d = local.distance(origin)
            if d > area.buffer_m:
                continue
            key = (1, d, i)
        if best is None or key < best:
            best = key
    return -1 if best is None else best[2]


def classify_row(
    row: dict[str, Any], pack: Pack, catalogue: AreaCatalogue | None
) -> tuple[str, list[str], str | None]:
    """Level, reasons (sorted by level then id) and area id of one row."""
    present: dict[str, bool] = {}
    labels = {name: pack.resolve_field(name) for name in row}
    for name, value in row.items():
        key = labels[name].category or ""
        present[key] = present.get(key, False) or value is not None
    reasons: list[tuple[int, str]] = []
    for key, is_present in present.items():
        if not is_present:
            continue
        if key:
            level = pack.level_of(key)
            rid = pack.category_rule_id(key)
        else:
            level = Level.parse(pack.header.settings.unknown_field_level)
            rid = f"{pack.name}/unknown-field"
        if level > Level.GENERAL:
            reasons.append((int(level), rid))
    area_index = -1
    lat = next((row[n] for n in row if labels[n].role == "latitude"), None)
    lon = next((row[n] for n in row if labels[n].role == "longitude"), None)
    if catalogue is not None and lat is not None and lon is not None and not math.isnan(lat):
        area_index = _match_area(lon, lat, catalogue)

    def any_present(categories: list[str]) -> bool:
        return any(
            ok and key and any(pack.is_within(key, c) for c in categories)
            for key, ok in present.items()
        )

    for rule in pack.record_rules:
        w = rule.when
        fired = True
        if w.in_area_kind is not None:
            fired &= (
                catalogue is not None
                and area_index >= 0
                and catalogue.areas[area_index].kind in w.in_area_kind
            )
        if w.categories_any is not None:
            fired &= any_present(w.categories_any)
        if w.positive_any is not None:
            fired &= any(
                labels[n].category is not None
                and any(pack.is_within(labels[n].category, c) for c in w.positive_any)
                and v is not None
                and float(v) > 0
                for n, v in row.items()
            )
        if w.missing_all is not None:
            fired &= not any_present(w.missing_all)
        if fired:
            reasons.append((int(Level.parse(rule.level)), rule.id))
    reasons.sort(key=lambda r: (-r[0], r[1]))
    level = max((r[0] for r in reasons), default=0)
    area_id = catalogue.areas[area_index].id if area_index >= 0 and catalogue else None
    return Level(level).label, [r[1] for r in reasons], area_id
