"""Sensitive areas: the catalogue loader and the point-in-area index.

>>> from onshore.geo import AreaIndex, load_areas
"""

from __future__ import annotations

from onshore.geo.areas import ADMIN_LEVELS, DEFAULT_KINDS, Area, AreaCatalogue, load_areas
from onshore.geo.index import AreaIndex, AreaMatch

__all__ = [
    "ADMIN_LEVELS",
    "DEFAULT_KINDS",
    "Area",
    "AreaCatalogue",
    "AreaIndex",
    "AreaMatch",
    "load_areas",
]
