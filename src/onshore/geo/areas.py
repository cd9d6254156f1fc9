"""The sensitive-area catalogue: GeoJSON in, validated frozen ``Area`` values out.

A catalogue is a GeoJSON FeatureCollection of features (lon/lat, WGS-84) whose properties are
``id`` (string, unique), ``kind`` (one the policy pack allows), ``name``, an optional
``buffer_m`` (metres, finite, >= 0; the pack's default for the kind when absent) and an
optional ``admin_level`` (``county`` · ``prefecture`` · ``province`` · ``national``).

A feature is a Polygon or MultiPolygon, matched inside and within ``buffer_m`` of it; or a
Point, MultiPoint, LineString or MultiLineString with a ``buffer_m`` above 0 (a site, a
perimeter road), whose area is the ground within ``buffer_m`` metres of it, built once here in
true metres (:mod:`onshore.geo.buffered`): its :class:`Area` holds that polygon, a
``buffer_m`` of 0 (the buffer is in the polygon) and ``drawn_as`` saying what was given.
Anything else is refused with an :class:`~onshore.errors.AreaError` naming the file, the
feature index, the property and the feature's id.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from onshore.errors import AreaError
from onshore.geo.buffered import SHAPES, buffer_metres

DEFAULT_KINDS: Mapping[str, float] = {
    "military_zone": 0.0,
    "defense_industry": 0.0,
    "government_organ": 0.0,
}
"""Kinds accepted (with their default buffer in metres) when the caller passes no pack kinds."""

ADMIN_LEVELS: tuple[str, ...] = ("county", "prefecture", "province", "national")


@dataclass(frozen=True)
class Area:
    """One sensitive area: a polygon (lon/lat, WGS-84) with its kind and buffer in metres.

    ``drawn_as`` is None for a polygon; for a point or line it says what was given
    (``"Point, buffer_m 500"``): ``geometry`` is then the ground within that buffer."""

    id: str
    kind: str
    name: str
    buffer_m: float
    admin_level: str | None
    geometry: Polygon | MultiPolygon
    drawn_as: str | None = None


@dataclass(frozen=True)
class AreaCatalogue:
    """The validated areas of one catalogue, in file order (the order breaks ties in lookups)."""

    areas: tuple[Area, ...]
    source: str | None = None

    def __len__(self) -> int:
        return len(self.areas)

    def ids(self) -> list[str]:
        """The area ids, in catalogue order."""
        return [a.id for a in self.areas]

    def kinds(self) -> list[str]:
        """The area kinds, in catalogue order."""
        return [a.kind for a in self.areas]


def load_areas(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    kinds: Mapping[str, float] | None = None,
) -> AreaCatalogue:
    """Load and validate a sensitive-area catalogue.

    ``source`` is a path to a GeoJSON FeatureCollection or the already-parsed dict. ``kinds``
    maps each allowed kind to its default buffer in metres (the policy pack supplies it); when
    ``None``, :data:`DEFAULT_KINDS` applies.

    >>> cat = load_areas({"type": "FeatureCollection", "features": [{"type": "Feature",
    ...     "properties": {"id": "a", "kind": "military_zone", "name": "A", "buffer_m": 50},
    ...     "geometry": {"type": "Polygon", "coordinates": [[[116, 39], [116.1, 39],
    ...                                                       [116.1, 39.1], [116, 39]]]}}]})
    >>> cat.ids(), cat.areas[0].buffer_m
    (['a'], 50.0)

    Raises :class:`~onshore.errors.AreaError` (file, record = feature index, field = property)
    for anything that does not validate.
    """
    allowed = dict(DEFAULT_KINDS if kinds is None else kinds)
    for kind, default in allowed.items():
        if not _is_buffer(default):
            raise AreaError(f"default buffer for kind {kind!r} must be finite and >= 0")
    if isinstance(source, Mapping):
        file = None
        data: Any = source
    else:
        file = os.fspath(source)
        data = _read_json(file)
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise AreaError("not a GeoJSON FeatureCollection", file=file)
    features = data.get("features")
    if not isinstance(features, list):
        raise AreaError("FeatureCollection has no 'features' list", file=file, field="features")
    seen: dict[str, int] = {}
    areas = []
    for index, feature in enumerate(features):
        area = _parse_feature(index, feature, allowed, file)
        if area.id in seen:
            raise AreaError(
                f"feature {index} (id {area.id!r}): duplicate id (first at feature "
                f"{seen[area.id]})",
                file=file,
                record=index,
                field="id",
            )
        seen[area.id] = index
        areas.append(area)
    return AreaCatalogue(areas=tuple(areas), source=file)


def _read_json(file: str) -> Any:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AreaError(f"cannot read the area catalogue: {exc}", file=file) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreaError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", file=file
        ) from exc


def _is_buffer(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _parse_feature(
    index: int, feature: Any, allowed: Mapping[str, float], file: str | None
) -> Area:
    def fail(message: str, field: str | None, fid: str | None = None) -> AreaError:
        who = f"feature {index}" + (f" (id {fid!r})" if fid is not None else "")
        return AreaError(f"{who}: {message}", file=file, record=index, field=field)

    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise fail("not a GeoJSON Feature", None)
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise fail("'properties' is not an object", "properties")
    fid = props.get("id", feature.get("id"))
    if fid is None:
        raise fail("missing id", "id")
    if not isinstance(fid, str) or not fid:
        raise fail(f"id must be a non-empty string, got {fid!r}", "id")
    kind = props.get("kind")
    if not isinstance(kind, str) or kind not in allowed:
        names = ", ".join(sorted(allowed))
        got = "missing kind" if kind is None else f"unknown kind {kind!r}"
        raise fail(f"{got} (allowed: {names})", "kind", fid)
    name = props.get("name", fid)
    if not isinstance(name, str):
        raise fail(f"name must be a string, got {name!r}", "name", fid)
    buffer = props.get("buffer_m")
    if buffer is None:
        buffer = allowed[kind]
    elif not _is_buffer(buffer):
        raise fail(f"buffer_m must be a finite number >= 0, got {buffer!r}", "buffer_m", fid)
    level = props.get("admin_level")
    if level is not None and level not in ADMIN_LEVELS:
        raise fail(
            f"admin_level must be one of {', '.join(ADMIN_LEVELS)}, got {level!r}",
            "admin_level",
            fid,
        )
    raw = feature.get("geometry")
    geometry = _parse_geometry(raw, lambda m: fail(m, "geometry", fid))
    if not isinstance(geometry, Polygon | MultiPolygon):
        gtype = geometry.geom_type
        if float(buffer) <= 0:
            why = "is 0" if "buffer_m" in props else f"is not given (kind {kind!r}: 0)"
            raise fail(
                f"a {gtype} needs buffer_m above 0 to cover ground; it {why}", "buffer_m", fid
            )
        return Area(
            id=fid,
            kind=kind,
            name=name,
            buffer_m=0.0,
            admin_level=level,
            geometry=buffer_metres(geometry, float(buffer)),
            drawn_as=f"{gtype}, buffer_m {float(buffer):g}",
        )
    return Area(
        id=fid,
        kind=kind,
        name=name,
        buffer_m=float(buffer),
        admin_level=level,
        geometry=geometry,
    )


def _parse_geometry(raw: Any, fail: Any) -> BaseGeometry:
    if not isinstance(raw, Mapping):
        raise fail("missing geometry")
    gtype = raw.get("type")
    if gtype not in ("Polygon", "MultiPolygon", *SHAPES):
        raise fail(
            "geometry must be a Polygon or MultiPolygon, or a Point, MultiPoint, LineString or "
            f"MultiLineString with buffer_m, got {gtype!r}"
        )
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise fail(f"malformed {gtype} coordinates: {exc}") from exc
    if geom.is_empty:
        raise fail("empty geometry")
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise fail("coordinates must be finite numbers")
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        bad = int(np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))[0])
        raise fail(
            f"coordinate ({lon[bad]!r}, {lat[bad]!r}) out of lon/lat range "
            "(|lon| <= 180, |lat| <= 90)"
        )
    reason = shapely.is_valid_reason(geom)
    if reason != "Valid Geometry":
        raise fail(f"invalid geometry: {reason}")
    return geom
