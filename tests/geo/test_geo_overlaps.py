"""Areas drawn as points and lines with a buffer in metres; rows in overlapping areas.

Distances here come from an independent formula (spherical destination points on the mean
Earth radius, not the ellipsoid the code uses), with margins of 2 % of the buffer, well above
the two models' difference (under 0.5 %), and well below the error of a buffer in degrees or
of one that forgets the cosine of the latitude (about 23 % east-west at 40°N).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onshore
from onshore.geo import AreaIndex, load_areas

R = 6_371_008.8
VIN = "1M8GDM9AXKP042788"


def destination(lon: float, lat: float, bearing_deg: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) along ``bearing_deg`` on a sphere of radius R."""
    d, b = metres / R, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(l2), math.degrees(p2)


def feature(fid: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"id": fid, "kind": "military_zone", "name": fid, **props},
        "geometry": geometry,
    }


def fc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _square(x0: float, y0: float, d: float) -> dict[str, Any]:
    ring = [[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize("lat", [22.5, 39.9, 53.0])
@pytest.mark.parametrize("buffer_m", [50.0, 500.0, 3000.0])
def test_a_point_covers_a_circle_in_metres(lat: float, buffer_m: float) -> None:
    lon = 116.4
    cat = load_areas(
        fc(feature("p", {"type": "Point", "coordinates": [lon, lat]}, buffer_m=buffer_m))
    )
    assert cat.areas[0].drawn_as == f"Point, buffer_m {buffer_m:g}"
    index = AreaIndex.build(cat, engine="numpy")
    bearings = np.arange(0, 360, 15.0)
    near = [destination(lon, lat, b, buffer_m * 0.98) for b in bearings]
    far = [destination(lon, lat, b, buffer_m * 1.02) for b in bearings]
    xs, ys = zip(*(near + far), strict=True)
    hit = index.lookup(np.array(xs), np.array(ys)).area >= 0
    assert hit[: len(near)].all(), "a point inside the buffer was missed"
    assert not hit[len(near) :].any(), "a point beyond the buffer matched"


def test_a_line_covers_a_corridor() -> None:
    line = {"type": "LineString", "coordinates": [[116.30, 39.90], [116.40, 39.90], [116.40, 40.0]]}
    index = AreaIndex.build(load_areas(fc(feature("road", line, buffer_m=200))), engine="numpy")
    points = []
    for lon, lat, bearing in ((116.35, 39.90, 0), (116.35, 39.90, 180), (116.40, 39.95, 90)):
        points += [destination(lon, lat, bearing, 196), destination(lon, lat, bearing, 204)]
    xs, ys = zip(*points, strict=True)
    hit = index.lookup(np.array(xs), np.array(ys)).area >= 0
    assert hit.tolist() == [True, False] * 3


def test_multi_points_and_multi_lines() -> None:
    cat = load_areas(
        fc(
            feature("pts", {"type": "MultiPoint", "coordinates": [[116.0, 39.0], [117.0, 40.0]]},
                    buffer_m=100),
            feature("lines", {"type": "MultiLineString",
                              "coordinates": [[[118, 30], [118.01, 30]],
                                              [[119, 31], [119, 31.01]]]},
                    buffer_m=100),
        )
    )  # fmt: skip
    index = AreaIndex.build(cat, engine="numpy")
    xs = np.array([117.0, 116.0, 118.005, 119.0, 116.5])
    ys = np.array([40.0005, 38.9995, 30.0005, 31.005, 39.5])
    assert index.lookup(xs, ys).area.tolist() == [0, 0, 1, 1, -1]


def _overlapping() -> Any:
    return load_areas(
        fc(
            feature("zone", _square(116.0, 39.0, 0.2)),
            feature("plant", _square(116.05, 39.05, 0.05), kind="defense_industry"),
            feature("gate", {"type": "Point", "coordinates": [116.07, 39.07]}, buffer_m=500,
                    kind="government_organ"),
            feature("apart", _square(117.0, 40.0, 0.1)),
        )
    )  # fmt: skip


def test_every_area_of_a_point_is_named() -> None:
    index = AreaIndex.build(_overlapping())
    xs = np.array([116.07, 116.01, 116.5, 117.05, 116.06])
    ys = np.array([39.07, 39.01, 39.5, 40.05, 39.06])
    m = index.lookup_all(xs, ys)
    ids = index.catalogue.ids()
    per_point = [[ids[a] for a in m.areas[m.rows == i]] for i in range(len(xs))]
    assert per_point == [["zone", "plant", "gate"], ["zone"], [], ["apart"], ["zone", "plant"]]
    assert m.counts(4).tolist() == [3, 2, 1, 1]
    assert m.offsets().tolist() == [0, 3, 4, 4, 5, 7]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(115.95, 116.3), st.floats(38.95, 39.3)), min_size=1, max_size=40)
)
def test_lookup_all_equals_one_lookup_per_area(points: list[tuple[float, float]]) -> None:
    """The oracle: a point is in area k exactly when an index of k alone says so."""
    cat = _overlapping()
    index = AreaIndex.build(cat)
    xs, ys = (np.array(v) for v in zip(*points, strict=True))
    m = index.lookup_all(xs, ys)
    got = {(int(r), int(a)) for r, a in zip(m.rows, m.areas, strict=True)}
    want = set()
    for k, area in enumerate(cat.areas):
        alone = AreaIndex.build(type(cat)((area,)), engine="numpy").lookup(xs, ys)
        want |= {(int(r), k) for r in np.flatnonzero(alone.area >= 0)}
    assert got == want
    winners = m.match.area
    firsts = {int(r): int(a) for r, a in zip(m.rows[::-1], m.areas[::-1], strict=True)}
    assert all(firsts[r] == winners[r] for r in firsts)  # the winner leads each list


def test_classify_counts_a_row_in_each_of_its_areas() -> None:
    table = pa.table(
        {
            "vin": [VIN] * 4,
            "ts": ["2026-11-02T08:00:00Z"] * 4,
            "lat": [39.07, 39.01, 39.5, 40.05],
            "lon": [116.07, 116.01, 116.5, 117.05],
        }
    )
    result = onshore.classify(table, areas=_overlapping())
    labelled = result.labelled()
    assert labelled.column("onshore_area").to_pylist() == ["zone", "zone", None, "apart"]
    assert labelled.column("onshore_areas").to_pylist() == [
        ["zone", "plant", "gate"],
        ["zone"],
        [],
        ["apart"],
    ]
    a = result.assessment
    assert a.areas_hit == {"zone": 2, "plant": 1, "gate": 1, "apart": 1}
    assert a.rows_in_areas == 3


def test_a_kind_rule_fires_for_any_area_of_the_row() -> None:
    """A row whose winning area is of a kind no rule names still fires the rule of another
    area it is in (here: a point in an unlisted kind's polygon and a military zone's)."""
    kinds = {"military_zone": 0.0, "other_site": 0.0}
    cat = load_areas(
        fc(
            feature("park", _square(116.0, 39.0, 0.2), kind="other_site"),
            feature("zone", _square(116.1, 39.1, 0.2)),
        ),
        kinds=kinds,
    )
    table = pa.table(
        {"vin": [VIN], "ts": ["2026-11-02T08:00:00Z"], "lat": [39.15], "lon": [116.15]}
    )
    result = onshore.classify(table, areas=cat)
    assert result.labelled().column("onshore_area").to_pylist() == ["park"]
    assert result.labelled().column("onshore_areas").to_pylist() == [["park", "zone"]]
    assert result.labelled().column("onshore_level").to_pylist() == ["important"]
