"""Sensitive areas: the catalogue loader and the point-in-area index.

>>> from onshore.geo import AreaIndex, load_areas
"""

from __future__ import annotations

from onshore.geo.areas import ADMIN_LEVELS, DEFAULT_KINDS, Area, AreaCatalogue, load_areas
from onshore.geo.crs import CRS_NAMES, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from onshore.geo.index import AreaIndex, AreaMatch
from onshore.geo.overlaps import AreaMatches

__all__ = [
    "ADMIN_LEVELS",
    "CRS_NAMES",
    "DEFAULT_KINDS",
    "Area",
    "AreaCatalogue",
    "AreaIndex",
    "AreaMatch",
    "AreaMatches",
    "gcj02_to_wgs84",
    "load_areas",
    "to_wgs84",
    "wgs84_to_gcj02",
]
