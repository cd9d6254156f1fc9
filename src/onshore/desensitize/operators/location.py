"""Location operators: grid or administrative generalization, WGS-84 ⇄ GCJ-02, and removal of
every point in or near a sensitive area. Positions are worked on in WGS-84 (rows a ``crs``
column marks ``gcj02`` are brought there and back with :mod:`onshore.geo.crs`); each operator
is idempotent.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pydantic import Field, model_validator

from onshore.desensitize.grid import MetricGrid
from onshore.desensitize.layout import Layout
from onshore.desensitize.operators.base import Operator, Resources, set_column
from onshore.errors import BadInput
from onshore.geo.areas import AreaCatalogue
from onshore.geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from onshore.geo.index import AreaIndex
from onshore.packs.profiles import OperatorParams

F64 = np.ndarray
AdminLevel = Literal["county", "prefecture", "province", "national"]


class GeneralizeParams(OperatorParams):
    """Snap positions to the centre of a grid of ``grid_m`` true metres, or reduce them to the
    region of ``admin_level`` in user-supplied boundaries (``outside``: rows in no region)."""

    grid_m: Annotated[float, Field(ge=10, le=1_000_000, allow_inf_nan=False)] | None = None
    admin_level: AdminLevel | None = None
    outside: Literal["drop", "null"] = "drop"

    @model_validator(mode="after")
    def _one(self) -> GeneralizeParams:
        if (self.grid_m is None) == (self.admin_level is None):
            raise ValueError("give exactly one of 'grid_m' or 'admin_level'")
        return self


class TransformCrsParams(OperatorParams):
    """Express positions in WGS-84 or GCJ-02; the ``crs`` column says which (idempotent)."""

    to: Literal["gcj02", "wgs84"]


class RemoveAreasParams(OperatorParams):
    """Remove every row whose position lies inside, or within the buffer (plus
    ``extra_buffer_m``) of, a sensitive area; ``kinds`` limits it to some area kinds."""

    extra_buffer_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    kinds: list[str] | None = None


class _Positions(Operator):
    """Shared position access: WGS-84 arrays in, the row's own system out."""

    def __init__(self, params: GeneralizeParams | TransformCrsParams | RemoveAreasParams) -> None:
        super().__init__(params)
        self.lat: str | None = None
        self.lon: str | None = None
        self.crs: str | None = None
        self.grid: MetricGrid | None = None

    def bind(self, layout: Layout) -> Layout:
        self.lat, self.lon, self.crs = layout.lat, layout.lon, layout.crs
        self.grid = layout.grid
        return layout.with_handled([n for n in (layout.lat, layout.lon) if n])

    def _gcj(self, batch: pa.RecordBatch) -> np.ndarray:
        if self.crs is None or self.crs not in batch.schema.names:
            return np.zeros(batch.num_rows, dtype=bool)
        eq = pc.equal(pc.cast(batch.column(self.crs), pa.string()), "gcj02")
        return np.asarray(pc.fill_null(eq, False).to_numpy(zero_copy_only=False), dtype=bool)

    def wgs84(self, batch: pa.RecordBatch) -> tuple[F64, F64, np.ndarray]:
        assert self.lat is not None and self.lon is not None
        lon = pc.cast(batch.column(self.lon), pa.float64()).to_numpy(zero_copy_only=False)
        lat = pc.cast(batch.column(self.lat), pa.float64()).to_numpy(zero_copy_only=False)
        lon, lat = np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)
        gcj = self._gcj(batch)
        if gcj.any():
            lon[gcj], lat[gcj] = gcj02_to_wgs84(lon[gcj], lat[gcj])
        return lon, lat, gcj

    def write(self, batch: pa.RecordBatch, lon: F64, lat: F64, gcj: np.ndarray) -> pa.RecordBatch:
        assert self.lat is not None and self.lon is not None
        lon, lat = lon.copy(), lat.copy()
        if gcj.any():
            lon[gcj], lat[gcj] = wgs84_to_gcj02(lon[gcj], lat[gcj])
        if self.grid is not None:  # positions on a grid keep the grid's precision only
            lon, lat = self.grid.round(lon), self.grid.round(lat)
        missing = np.isnan(lon) | np.isnan(lat)
        batch = set_column(batch, self.lon, pa.array(lon, mask=missing))
        return set_column(batch, self.lat, pa.array(lat, mask=missing))

    def _ready(self) -> bool:
        return self.lat is not None and self.lon is not None


class Generalize(_Positions):
    """Snap to a grid of ``grid_m`` true metres, or reduce to an administrative region."""

    NAME = "generalize_location"
    params: GeneralizeParams

    def __init__(self, params: GeneralizeParams, boundaries: AreaCatalogue | None) -> None:
        super().__init__(params)
        self.own_grid = MetricGrid(params.grid_m) if params.grid_m is not None else None
        self.grid = self.own_grid
        self.index: AreaIndex | None = None
        self.region = f"admin_{params.admin_level}" if params.admin_level else None
        if params.admin_level is not None:
            if boundaries is None:
                raise BadInput(
                    f"generalizing to {params.admin_level} needs administrative boundaries "
                    "(--boundaries GEOJSON)"
                )
            areas = tuple(a for a in boundaries.areas if a.admin_level == params.admin_level)
            if not areas:
                raise BadInput(
                    f"the boundaries hold no {params.admin_level} regions", file=boundaries.source
                )
            catalogue = AreaCatalogue(areas, boundaries.source)
            self.index = AreaIndex.build(catalogue)
            points = shapely.point_on_surface(np.asarray([a.geometry for a in areas]))
            self._rep = np.column_stack([shapely.get_x(points), shapely.get_y(points)])
            self._ids = pa.array([a.id for a in areas], type=pa.string())

    @classmethod
    def build(cls, params: GeneralizeParams, resources: Resources) -> Generalize:
        return cls(params, resources.boundaries)

    def max_displacement_m(self) -> float | None:
        """How far a point may move (``None``: unbounded, as for regions): to its cell's
        centre, then by the rounding of the centre to the grid's precision."""
        if self.own_grid is None:
            return None
        return self.own_grid.max_displacement_m() + self.own_grid.size_m / 20 * float(np.sqrt(2))

    def bind(self, layout: Layout) -> Layout:
        layout = super().bind(layout)
        self.grid = self.own_grid  # an administrative region is no grid: its points as they are
        layout = layout.replace(grid=self.own_grid)
        if self.region is not None and self._ready():
            layout = layout.replace(
                names=(*layout.names, self.region),
                categories={**layout.categories, self.region: None},
            ).with_handled([self.region])
        return layout

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._ready() or batch.num_rows == 0:
            return batch
        lon, lat, gcj = self.wgs84(batch)
        if self.own_grid is not None:
            lon, lat = self.own_grid.snap(lon, lat)
            return self.write(batch, lon, lat, gcj)
        assert self.index is not None and self.region is not None
        match = self.index.lookup(np.ascontiguousarray(lon), np.ascontiguousarray(lat))
        area = np.asarray(match.area, dtype=np.int64)
        hit = area >= 0
        has_pos = ~(np.isnan(lon) | np.isnan(lat))
        new_lon = np.where(hit, self._rep[np.clip(area, 0, None), 0], np.nan)
        new_lat = np.where(hit, self._rep[np.clip(area, 0, None), 1], np.nan)
        batch = self.write(batch, new_lon, new_lat, gcj)
        region = self._ids.take(pa.array(np.clip(area, 0, None), mask=~hit))
        batch = set_column(batch, self.region, region)
        if self.params.outside == "drop":
            outside = has_pos & ~hit
            self.details["rows_outside_dropped"] = self.details.get(
                "rows_outside_dropped", 0
            ) + int(outside.sum())
            batch = batch.filter(pa.array(~outside))
        return batch

    def merge(self, state: dict[str, Any]) -> None:
        dropped = self.details.get("rows_outside_dropped", 0)
        super().merge(state)
        if "rows_outside_dropped" in state["details"]:
            self.details["rows_outside_dropped"] = (
                dropped + state["details"]["rows_outside_dropped"]
            )


class TransformCrs(_Positions):
    """Express positions in ``to`` (``gcj02`` or ``wgs84``); the ``crs`` column records it."""

    NAME = "transform_crs"
    params: TransformCrsParams

    def __init__(self, params: TransformCrsParams) -> None:
        super().__init__(params)

    @classmethod
    def build(cls, params: TransformCrsParams, resources: Resources) -> TransformCrs:
        return cls(params)

    def bind(self, layout: Layout) -> Layout:
        layout = super().bind(layout)
        if not self._ready():
            return layout
        if layout.crs is None:
            self.crs = "crs"
            layout = layout.replace(
                names=(*layout.names, "crs"),
                categories={**layout.categories, "crs": "location.crs"},
                crs="crs",
            )
        return layout.with_handled([self.crs or "crs"])

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._ready():
            return batch
        assert self.crs is not None
        lon, lat, _gcj = self.wgs84(batch)
        if self.grid is not None:  # back on the exact centres (rounding is not compounded)
            lon, lat = self.grid.snap(lon, lat)
        target = np.full(batch.num_rows, self.params.to == "gcj02")
        batch = self.write(batch, lon, lat, target)
        crs = pa.array(np.full(batch.num_rows, self.params.to, dtype=object), type=pa.string())
        return set_column(batch, self.crs, crs)


class RemoveAreas(_Positions):
    """Remove every row whose position is inside, or within the buffer of, a sensitive area."""

    NAME = "remove_sensitive_areas"
    params: RemoveAreasParams

    def __init__(
        self, params: RemoveAreasParams, areas: AreaCatalogue | None, *, final: bool = False
    ) -> None:
        super().__init__(params)
        if areas is None:
            raise BadInput(
                "this profile removes points in or near sensitive areas: give the catalogue "
                "(--areas GEOJSON, or HOME/areas.geojson)"
            )
        chosen = [a for a in areas.areas if params.kinds is None or a.kind in params.kinds]
        extra = params.extra_buffer_m
        chosen = [dataclasses.replace(a, buffer_m=a.buffer_m + extra) for a in chosen]
        self.catalogue = AreaCatalogue(tuple(chosen), areas.source)
        self.index = AreaIndex.build(self.catalogue) if chosen else None
        self.final = final
        self._hits = np.zeros(len(chosen), dtype=np.int64)

    @classmethod
    def build(cls, params: RemoveAreasParams, resources: Resources) -> RemoveAreas:
        return cls(params, resources.areas)

    @property
    def name(self) -> str:
        return "remove_sensitive_areas (after generalization)" if self.final else super().name

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.index is None or not self._ready() or batch.num_rows == 0:
            return batch
        lon, lat, _gcj = self.wgs84(batch)
        matches = self.index.lookup_all(lon, lat)
        hit = np.asarray(matches.match.area) >= 0
        if hit.any():  # a removed row counts in each area it was in (areas may overlap)
            self._hits += matches.counts(len(self._hits))
            ids = self.catalogue.ids()
            self.details["rows_removed_per_area"] = {
                ids[i]: int(c) for i, c in enumerate(self._hits) if c
            }
            batch = batch.filter(pa.array(~hit))
        return batch

    def state(self) -> dict[str, Any]:
        return {**super().state(), "hits": self._hits.copy()}

    def merge(self, state: dict[str, Any]) -> None:
        super().merge(state)
        self._hits += state["hits"]
        if self._hits.any():
            ids = self.catalogue.ids()
            self.details["rows_removed_per_area"] = {
                ids[i]: int(c) for i, c in enumerate(self._hits) if c
            }
