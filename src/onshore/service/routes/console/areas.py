"""``/v1/console/areas`` and ``/v1/console/areas/hits``: the sensitive-area catalogue as
GeoJSON, and the points of a lake dataset that fall inside an area or its buffer, as the
classifier finds them (positions are personal data: a ``view`` entry, and the transfer gate
first for a client abroad)."""

from __future__ import annotations

import shutil
import uuid
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Query, Request

from onshore.classify import LABEL_COLUMNS, Classifier
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import documented
from onshore.service.routes.console.shared import ERRORS, READERS
from onshore.store.snapshot import snapshot_dataset
from onshore.text import Name

router = APIRouter(tags=["console"])


@router.get(
    "/v1/console/areas",
    summary="The sensitive-area catalogue the service classifies with, as GeoJSON",
    responses=documented(401, 403, 503),
)
def areas(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))], request: Request
) -> dict[str, Any]:
    import shapely.geometry

    state = state_of(request)
    features = []
    if state.areas is not None:
        for area in state.areas.catalogue.areas:
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "id": area.id,
                        "kind": area.kind,
                        "name": area.name,
                        "buffer_m": area.buffer_m,
                        "admin_level": area.admin_level,
                    },
                    "geometry": shapely.geometry.mapping(area.geometry),
                }
            )
    return {"type": "FeatureCollection", "features": features}


MAX_POINTS = 5000


@router.get(
    "/v1/console/areas/hits",
    summary="Points of a lake dataset inside a sensitive area or its buffer",
    responses=ERRORS,
)
def area_hits(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="gate"))],
    request: Request,
    dataset: Annotated[Name, Query(min_length=1, description="A lake dataset (GET /v1/datasets)")],
    limit: int = Query(MAX_POINTS, ge=1, le=50_000, description="Most points returned"),
) -> dict[str, Any]:
    """The dataset is classified again with the service's catalogue (positions brought to
    WGS-84 as the classifier does). Positions of vehicles are personal data: a ``view``
    entry, and the transfer gate first for a client abroad. No VIN is returned."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        if state.areas is None:
            raise BadInput("the service has no sensitive-area catalogue (--areas)", field="areas")
        catalogue = state.areas.catalogue
        folder = home.path / "outbox" / ".console" / uuid.uuid4().hex[:12]
        try:
            staged = snapshot_dataset(home, dataset, folder / f"{dataset}.parquet")
            from onshore.io import open_source

            classifier = Classifier(home.pack, state.areas)
            rows = 0
            per_area: dict[str, int] = {}
            points: dict[str, list[Any]] = {"lon": [], "lat": [], "area": [], "level": []}
            for batch, _rows in open_source(staged).batches():
                result = classifier.classify_batch(batch)
                rows += result.data.num_rows
                plan = classifier.plan_for(batch.schema)
                area = result.labels.column(LABEL_COLUMNS.index("onshore_area"))
                hit = pc.is_valid(area)
                if plan.lat is None or plan.lon is None or not pc.any(hit).as_py():
                    continue
                picked = result.data.filter(hit)
                names = area.filter(hit).to_pylist()
                levels = result.labels.column(0).filter(hit).to_pylist()
                # a row in overlapping areas counts in each of them (onshore_areas)
                every = result.labels.column(LABEL_COLUMNS.index("onshore_areas"))
                for item in pc.value_counts(pc.list_flatten(every.filter(hit))).to_pylist():
                    name = item["values"]
                    per_area[name] = per_area.get(name, 0) + item["counts"]
                lon, lat = picked.column(plan.lon), picked.column(plan.lat)
                if plan.crs is not None:
                    from onshore.geo import to_wgs84

                    x, y, _bad = to_wgs84(
                        lon.to_numpy(zero_copy_only=False),
                        lat.to_numpy(zero_copy_only=False),
                        picked.column(plan.crs).to_pylist(),
                    )
                    lon, lat = pa.array(x), pa.array(y)
                room = limit - len(points["lon"])
                if room > 0:
                    points["lon"] += lon.to_pylist()[:room]
                    points["lat"] += lat.to_pylist()[:room]
                    points["area"] += names[:room]
                    points["level"] += [str(v) for v in levels[:room]]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        shown = pa.table(
            {
                "lat": pa.array(points["lat"], pa.float64()),
                "lon": pa.array(points["lon"], pa.float64()),
            }
        )
        allowed = gate_read(state, home, principal, shown, f"area hits of {dataset}")
        total = sum(per_area.values())
        if total:
            home.record(
                Activity.VIEW,
                purpose=principal.purpose or "sensitive-area hits (console)",
                dataset=dataset,
                categories=["location.trajectory"],
                counts={"rows": rows, "hits": total, "points_shown": len(points["lon"])},
                decision="read",
                details={"areas": sorted(per_area), "country": principal.country},
            )
    kinds = {a.id: a.kind for a in catalogue.areas}
    return {
        "dataset": dataset,
        "rows": rows,
        "hits": total,
        "areas": [{"id": k, "kind": kinds.get(k), "hits": v} for k, v in sorted(per_area.items())],
        "points": [
            {"lon": x, "lat": y, "area": a, "level": lv}
            for x, y, a, lv in zip(
                points["lon"], points["lat"], points["area"], points["level"], strict=True
            )
        ],
        "truncated": total > len(points["lon"]),
        "remote_access": allowed,
    }
