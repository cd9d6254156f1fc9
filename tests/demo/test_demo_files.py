"""The demo's files: determinism, schemas, fictional identities, the area catalogue."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from demo_support import path

from onshore.classify.vin import check_vins
from onshore.demo import FILES, DemoSummary, write_demo
from onshore.demo.fleet import WMIS
from onshore.demo.owners import id_check_char
from onshore.demo.readme import README_MARKER
from onshore.demo.telemetry import ROW_GROUP, SCHEMA
from onshore.errors import BadInput
from onshore.geo import AreaIndex, load_areas
from onshore.packs import Pack

TS = pa.timestamp("ms", tz="UTC")


def test_same_seed_gives_identical_files(demo: DemoSummary, demo_again: DemoSummary) -> None:
    for name in FILES:
        assert path(demo, name).read_bytes() == path(demo_again, name).read_bytes(), name


def test_other_seed_gives_other_data(demo: DemoSummary, tmp_path: Path) -> None:
    other = write_demo(tmp_path / "demo", vehicles=demo.vehicles, days=1, seed=8)
    a = pq.read_table(path(demo, "telemetry.parquet"))
    b = pq.read_table(path(other, "telemetry.parquet"))
    assert not a.equals(b)
    assert set(a["vin"].to_pylist()).isdisjoint(b["vin"].to_pylist())


def test_telemetry_schema_and_row_groups(demo: DemoSummary) -> None:
    f = pq.ParquetFile(path(demo, "telemetry.parquet"))
    assert f.schema_arrow == SCHEMA
    assert f.schema_arrow.field("ts").type == TS
    sizes = [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)]
    assert all(n == ROW_GROUP for n in sizes[:-1]) and sum(sizes) == demo.telemetry_rows


def test_charging_schemas(demo: DemoSummary) -> None:
    s = pq.read_table(path(demo, "charging_sessions.parquet"))
    assert s.schema.names == [
        *("session_id", "vin", "station_id", "session_start", "session_end"),
        *("energy_kwh", "start_soc", "end_soc", "station_lat", "station_lon"),
    ]
    assert s.schema.field("session_start").type == TS
    h = pq.read_table(path(demo, "charging_stations_hourly.parquet"))
    assert h.schema.names == [
        *("station_id", "hour", "sessions_per_hour", "energy_delivered_kwh"),
        *("station_utilisation", "occupied_connectors"),
    ]
    assert h.num_rows == demo.stations * 24 * demo.days
    util = h["station_utilisation"].to_numpy()
    assert (util >= 0).all() and (util <= 1).all() and util.max() > 0
    assert (h["occupied_connectors"].to_numpy() >= 0).all()
    assert h["sessions_per_hour"].to_numpy().sum() >= s.num_rows


def test_vins_are_valid_and_chinese(telemetry: pa.Table, demo: DemoSummary) -> None:
    vins = telemetry["vin"].unique()
    assert len(vins) == demo.vehicles
    assert (check_vins(vins) == "ok").all()
    assert {v[:3] for v in vins.to_pylist()} <= set(WMIS)


def test_owners_are_fictional_but_well_formed(demo: DemoSummary, telemetry: pa.Table) -> None:
    with path(demo, "owners.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["vin", "owner_name", "phone", "id_number", "city"]
    assert {r["vin"] for r in rows} == set(telemetry["vin"].to_pylist())
    for r in rows:
        assert len(r["phone"]) == 11 and r["phone"].startswith("19900")
        idn = r["id_number"]
        assert len(idn) == 18 and idn[:17].isdigit() and idn[17] == id_check_char(idn[:17])
        assert idn.startswith("110") and 900 <= int(idn[14:17]) <= 999


def test_id_check_char_known_value() -> None:
    assert id_check_char("11010519491231002") == "X"


def test_area_catalogue_loads_and_has_every_shape(demo: DemoSummary) -> None:
    raw = json.loads(path(demo, "areas.geojson").read_text(encoding="utf-8"))
    cat = load_areas(path(demo, "areas.geojson"))
    assert 6 <= len(cat) <= 10 and len(set(cat.ids())) == len(cat)
    assert set(cat.kinds()) == {"military_zone", "defense_industry", "government_organ"}
    types = [f["geometry"]["type"] for f in raw["features"]]
    assert "MultiPolygon" in types
    holes = [len(f["geometry"]["coordinates"]) > 1 for f in raw["features"]]
    assert any(t == "Polygon" and h for t, h in zip(types, holes, strict=True))
    for a in cat.areas:
        assert "(demo)" in a.name and "Fictional" in a.name
        assert (a.admin_level is not None) == (a.kind == "government_organ")


def test_some_points_fall_in_areas(demo: DemoSummary, telemetry: pa.Table, pack: Pack) -> None:
    cat = load_areas(path(demo, "areas.geojson"), kinds=pack.area_buffers())
    index = AreaIndex.build(cat)
    lon = telemetry["lon"].to_numpy(zero_copy_only=False)
    lat = telemetry["lat"].to_numpy(zero_copy_only=False)
    hits = int((index.lookup(lon, lat).area >= 0).sum())
    assert hits == demo.area_rows
    assert 0.005 <= hits / telemetry.num_rows <= 0.08


def test_readme_describes_every_file(demo: DemoSummary) -> None:
    text = path(demo, "README.md").read_text(encoding="utf-8")
    assert text.startswith(README_MARKER)
    for name in FILES[:-1]:
        assert f"`{name}`" in text
    for column in SCHEMA.names:
        assert f"`{column}`" in text
    assert "fictional" in text and "--areas" in text


def test_refuses_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BadInput, match="--force"):
        write_demo(tmp_path, vehicles=1)
    assert write_demo(tmp_path, vehicles=1, force=True).telemetry_rows > 0
    assert write_demo(tmp_path, vehicles=1).telemetry_rows > 0  # an earlier demo is fine


@pytest.mark.parametrize(
    "kwargs", [{"vehicles": 0}, {"days": 0}, {"seed": -1}, {"vehicles": 10**9}]
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(BadInput):
        write_demo(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_summary_as_dict_is_json(demo: DemoSummary) -> None:
    d = json.loads(json.dumps(demo.as_dict()))
    assert d["telemetry_rows"] == demo.telemetry_rows and 0 < d["area_share"] < 1
    assert np.isclose(d["area_share"], demo.area_rows / demo.telemetry_rows, atol=1e-5)
