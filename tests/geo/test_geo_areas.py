"""The area catalogue loader: what it accepts, and how it names what it refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from onshore.errors import AreaError
from onshore.geo import load_areas

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1], [116.0, 39.0]]],
}


def feature(fid: Any = "a", kind: Any = "military_zone", geometry: Any = SQUARE, **props: Any):
    p = {"id": fid, "kind": kind, "name": f"area {fid}", **props}
    if fid is ...:
        del p["id"]
    return {"type": "Feature", "properties": p, "geometry": geometry}


def fc(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def refuse(source: Any, **kw: Any) -> AreaError:
    with pytest.raises(AreaError) as info:
        load_areas(source, **kw)
    return info.value


def test_loads_a_valid_catalogue_with_defaults(tmp_path):
    path = tmp_path / "areas.geojson"
    holed = {
        "type": "Polygon",
        "coordinates": [
            SQUARE["coordinates"][0],
            [[116.02, 39.02], [116.05, 39.02], [116.05, 39.05], [116.02, 39.02]],
        ],
    }
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"], holed["coordinates"]]}
    multi["coordinates"][1] = [[[x + 1, y] for x, y in r] for r in holed["coordinates"]]
    path.write_text(
        json.dumps(
            fc(
                feature("a", buffer_m=250),
                feature("b", "government_organ", holed, admin_level="county"),
                feature("c", "defense_industry", multi, buffer_m=0),
            )
        )
    )
    cat = load_areas(path)
    assert len(cat) == 3
    assert cat.ids() == ["a", "b", "c"]
    assert cat.kinds() == ["military_zone", "government_organ", "defense_industry"]
    assert [a.buffer_m for a in cat.areas] == [250.0, 0.0, 0.0]
    assert cat.areas[1].admin_level == "county"
    assert cat.areas[2].geometry.geom_type == "MultiPolygon"
    assert cat.source == str(path)


def test_pack_kinds_give_default_buffers():
    cat = load_areas(
        fc(feature("a", "airport"), feature("b", "airport", buffer_m=3)), kinds={"airport": 500}
    )
    assert [a.buffer_m for a in cat.areas] == [500.0, 3.0]


def test_unknown_kind_names_file_feature_and_id(tmp_path):
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps(fc(feature("a"), feature("mz-7", "airport"))))
    err = refuse(path)
    assert (err.file, err.record, err.field) == (str(path), 1, "kind")
    assert "feature 1 (id 'mz-7'): unknown kind 'airport' (allowed: " in str(err)
    assert str(err).startswith(f"{path}: record 1: field 'kind': ")


@pytest.mark.parametrize(
    ("feat", "field", "words"),
    [
        (feature(...), "id", "missing id"),
        (feature(7), "id", "id must be a non-empty string"),
        (feature("x", kind=None), "kind", "missing kind"),
        (feature("x", buffer_m=-1), "buffer_m", "buffer_m must be"),
        (feature("x", buffer_m=math.nan), "buffer_m", "buffer_m must be"),
        (feature("x", buffer_m=math.inf), "buffer_m", "buffer_m must be"),
        (feature("x", buffer_m="100"), "buffer_m", "buffer_m must be"),
        (feature("x", buffer_m=True), "buffer_m", "buffer_m must be"),
        (feature("x", admin_level="city"), "admin_level", "admin_level must be one of"),
        (feature("x", name=3), "name", "name must be a string"),
        (feature("x", geometry=None), "geometry", "missing geometry"),
        (
            feature("x", geometry={"type": "Point", "coordinates": [116, 39]}),
            "buffer_m",
            "a Point needs buffer_m above 0",
        ),
        (
            feature(
                "x",
                geometry={"type": "LineString", "coordinates": [[116, 39], [116.1, 39]]},
                buffer_m=0,
            ),
            "buffer_m",
            "a LineString needs buffer_m above 0",
        ),
        (
            feature("x", geometry={"type": "GeometryCollection", "geometries": []}),
            "geometry",
            "or MultiLineString with buffer_m, got 'GeometryCollection'",
        ),
        (
            feature("x", geometry={"type": "Polygon", "coordinates": [[[116, 39], [116.1]]]}),
            "geometry",
            "malformed Polygon coordinates",
        ),
        (
            feature(
                "x",
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                },
            ),
            "geometry",
            "invalid geometry: Self-intersection",
        ),
        (
            feature(
                "x",
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[179, 0], [181, 0], [181, 1], [179, 0]]],
                },
            ),
            "geometry",
            "out of lon/lat range",
        ),
        (
            feature(
                "x",
                geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 0], [0, 0]]]},
            ),
            "geometry",
            "out of lon/lat range",
        ),
    ],
)
def test_bad_feature_is_refused_with_its_index(feat, field, words):
    err = refuse(fc(feature("ok"), feat))
    assert err.record == 1
    assert err.field == field
    assert words in err.message
    assert err.message.startswith("feature 1")
    if isinstance(feat["properties"].get("id"), str):
        assert "(id 'x')" in err.message


def test_duplicate_id():
    err = refuse(fc(feature("a"), feature("b"), feature("a")))
    assert (err.record, err.field) == (2, "id")
    assert "feature 2 (id 'a'): duplicate id (first at feature 0)" in str(err)


def test_not_a_feature():
    err = refuse(fc(feature("a"), ["nope"]))
    assert err.record == 1
    assert "not a GeoJSON Feature" in str(err)


def test_malformed_json(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    err = refuse(path)
    assert err.file == str(path)
    assert "malformed JSON" in str(err)


def test_missing_file(tmp_path):
    err = refuse(tmp_path / "nope.geojson")
    assert "cannot read" in str(err)


@pytest.mark.parametrize(
    "data", [{"type": "Feature"}, [], {"type": "FeatureCollection", "features": {}}]
)
def test_not_a_feature_collection(tmp_path, data):
    path = tmp_path / "x.geojson"
    path.write_text(json.dumps(data))
    err = refuse(path)
    assert err.file == str(path)
    assert "FeatureCollection" in str(err)


def test_bad_pack_default_buffer():
    err = refuse(fc(), kinds={"airport": -5})
    assert "airport" in str(err)
