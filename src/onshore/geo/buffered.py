"""Points and lines with a buffer, as the polygons of the ground they reach.

A sensitive area may be drawn as a Point, MultiPoint, LineString or MultiLineString with
``buffer_m`` (a site, a perimeter road): what it covers is every place within ``buffer_m``
metres of it. That ground is built here once, when the catalogue loads, as a polygon in
longitude and latitude, so the index matches it like any other area.

Metres are true metres, not degrees: each point, and each piece of a line (lines are first cut
into pieces of at most ``PIECE_DEG`` degrees), is buffered in the local equirectangular
projection tangent at that point or piece, with the WGS-84 ellipsoid's metres per degree there
(:mod:`onshore.geo.ellipsoid`), the projection the index measures distances in; the pieces'
polygons are then joined. The circle is drawn with ``QUAD_SEGS`` segments a quarter, so its
edge is within 0.03 % of the buffer (0.15 m for 500 m) inside the true circle.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from onshore.geo.ellipsoid import metres_per_degree

PIECE_DEG = 0.01
"""Longest piece of a line buffered in one local projection (about 1 km): the projection's
scale then differs from the true one by under 0.02 % anywhere on the piece."""
QUAD_SEGS = 64
"""Segments per quarter circle of a buffer."""
SHAPES = ("Point", "MultiPoint", "LineString", "MultiLineString")
"""The GeoJSON types that need a buffer to be an area."""


def buffer_metres(geom: BaseGeometry, buffer_m: float) -> Polygon | MultiPolygon:
    """The ground within ``buffer_m`` metres (> 0) of a point or line geometry (lon/lat)."""
    parts = shapely.get_parts(np.asarray([geom], dtype=object))
    lines = [p for p in parts if p.geom_type == "LineString"]
    points = [p for p in parts if p.geom_type == "Point"]
    pieces: list[BaseGeometry] = list(points)
    if lines:
        dense = shapely.segmentize(np.asarray(lines, dtype=object), PIECE_DEG)
        coords, which = shapely.get_coordinates(dense, return_index=True)
        same = which[1:] == which[:-1]  # consecutive vertices of one line make a piece
        starts = np.flatnonzero(same)
        segments = np.stack([coords[starts], coords[starts + 1]], axis=1)
        pieces += list(shapely.linestrings(segments))
    geoms = np.asarray(pieces, dtype=object)
    # each piece in its own local projection, centred on it
    centre = shapely.get_coordinates(shapely.centroid(geoms))
    kx, ky = metres_per_degree(centre[:, 1])
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    local = (coords - centre[which]) * np.column_stack([kx[which], ky[which]])
    projected = shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(geoms)), local)
    circles = shapely.buffer(projected, buffer_m, quad_segs=QUAD_SEGS)
    coords, which = shapely.get_coordinates(circles, return_index=True)
    back = coords / np.column_stack([kx[which], ky[which]]) + centre[which]
    ground = shapely.union_all(shapely.set_coordinates(circles, back))
    if not isinstance(ground, Polygon | MultiPolygon):  # union of polygons: one of the two
        raise ValueError(f"the buffer is a {ground.geom_type}")
    return shapely.make_valid(ground) if not ground.is_valid else ground
