"""Administrative boundaries supplied by the user, for generalizing positions to a region.

A GeoJSON FeatureCollection of Polygon / MultiPolygon features (lon/lat, WGS-84) with the
properties ``id`` (or ``adcode`` / ``code``), ``name`` and ``admin_level`` (``county`` ·
``prefecture`` · ``province`` · ``national``). They are indexed with the same exact area index
as sensitive areas (buffer 0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, shape

from onshore.errors import BadInput
from onshore.geo.areas import ADMIN_LEVELS, Area, AreaCatalogue


def load_boundaries(source: str | os.PathLike[str] | Mapping[str, Any]) -> AreaCatalogue:
    """Load administrative boundaries; ``Area.kind`` and ``Area.admin_level`` hold the level.

    >>> cat = load_boundaries({"type": "FeatureCollection", "features": [{"type": "Feature",
    ...     "properties": {"adcode": "110108", "name": "Haidian", "admin_level": "county"},
    ...     "geometry": {"type": "Polygon", "coordinates": [[[116, 39], [116.1, 39],
    ...                                                       [116.1, 39.1], [116, 39]]]}}]})
    >>> cat.areas[0].id, cat.areas[0].admin_level
    ('110108', 'county')
    """
    file = None
    if isinstance(source, Mapping):
        data: Any = source
    else:
        file = str(source)
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(f"cannot read boundaries: {exc}", file=file) from exc
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise BadInput("boundaries must be a GeoJSON FeatureCollection", file=file)
    areas = []
    for i, feature in enumerate(data.get("features") or []):
        props = feature.get("properties") or {}
        ident = props.get("id", props.get("adcode", props.get("code")))
        level = props.get("admin_level", props.get("level"))
        if ident is None:
            raise BadInput("feature has no id (or adcode)", file=file, record=i, field="id")
        if level not in ADMIN_LEVELS:
            raise BadInput(
                f"admin_level {level!r} is not one of {', '.join(ADMIN_LEVELS)}",
                file=file,
                record=i,
                field="admin_level",
            )
        try:
            geom = shape(feature.get("geometry"))
        except (AttributeError, TypeError, ValueError) as exc:
            raise BadInput(f"bad geometry: {exc}", file=file, record=i, field="geometry") from exc
        if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
            raise BadInput("geometry must be a Polygon or MultiPolygon", file=file, record=i)
        areas.append(
            Area(str(ident), str(level), str(props.get("name", ident)), 0.0, str(level), geom)
        )
    return AreaCatalogue(tuple(areas), source=file)
