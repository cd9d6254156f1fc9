"""The checks a user would run on the demo fleet, through the CLI and the library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
import yaml

import onshore
from onshore.demo import DemoSummary
from onshore.desensitize.operators.pseudonym import pseudonym
from onshore.geo import AreaIndex
from onshore.geo.crs import to_wgs84
from onshore.keystore import Key

from .conftest import areas_of, distances_m, reference_trips

pytestmark = pytest.mark.slow


def cli(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "onshore", *argv], capture_output=True, text=True, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def exported(fleet: DemoSummary, key: Key, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("export")
    env = {
        "ONSHORE_KEY_HMAC_SHA256": key.material.hex(),
        "ONSHORE_HOME": str(out / "home"),
        "PATH": "/usr/bin:/bin",
    }
    results = {}
    for name in ("telemetry.parquet", "owners.csv"):
        target = out / name
        proc = cli(
            "desensitize",
            str(fleet.files[name]),
            "--profile",
            "export-default",
            "--areas",
            str(fleet.files["areas.geojson"]),
            "--out",
            str(target),
            "--json",
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        results[name] = (target, json.loads(proc.stdout))
    return results


def test_no_raw_identifier_anywhere(fleet: DemoSummary, exported) -> None:  # type: ignore[no-untyped-def]
    owners = pa.csv.read_csv(fleet.files["owners.csv"])
    secrets = set()
    for column in ("vin", "phone", "id_number", "owner_name"):
        secrets |= {str(v) for v in owners.column(column).to_pylist()}
    for target, report in exported.values():
        table = pa.csv.read_csv(target) if target.suffix == ".csv" else pq.read_table(target)
        values = set()
        for column in table.columns:
            values |= {str(v) for v in pc.unique(column).to_pylist()}
        text = "\n".join(sorted(values)).encode()
        text += target.with_name(target.name + ".desensitize.json").read_bytes()
        found = [s for s in secrets if s.encode() in text]
        assert not found, found[:5]
        assert report["promise"]["kept"] is True
        assert len(report["key_ids"]) == 1


def test_no_point_in_or_near_a_sensitive_area(fleet: DemoSummary, exported, pack) -> None:  # type: ignore[no-untyped-def]
    table = pq.read_table(exported["telemetry.parquet"][0])
    lon, lat, _bad = to_wgs84(
        table.column("lon").to_numpy(),
        table.column("lat").to_numpy(),
        table.column("crs").to_pylist(),
    )
    match = AreaIndex.build(areas_of(fleet, pack)).lookup(lon, lat)
    assert not (match.area >= 0).any()
    rescan = onshore.classify(table, pack, areas=areas_of(fleet, pack))
    assert rescan.assessment.level <= onshore.Level.SENSITIVE_PERSONAL


def test_no_point_within_the_trimmed_distance_of_its_trip_ends(
    fleet: DemoSummary, exported, key: Key
) -> None:  # type: ignore[no-untyped-def]
    raw = pq.read_table(fleet.files["telemetry.parquet"])
    trips = reference_trips(raw)
    digest = {
        pseudonym(key, "vehicle.identity.vin", str(t["start"]), t["vin"], 16): t
        for t in trips.to_pylist()
    }
    out = pq.read_table(exported["telemetry.parquet"][0])
    lon, lat, _ = to_wgs84(out.column("lon").to_numpy(), out.column("lat").to_numpy(), "gcj02")
    names = out.column("vin_pseudonym").to_pylist()
    assert set(names) <= set(digest)  # every output trip is a reference trip
    first = np.array([digest[n]["first"] for n in names])
    last = np.array([digest[n]["last"] for n in names])
    d0 = distances_m(lon, lat, first[:, 0], first[:, 1])
    d1 = distances_m(lon, lat, last[:, 0], last[:, 1])
    assert min(d0.min(), d1.min()) >= 500.0


def test_unicity_at_four_points_falls_below_0_2(exported) -> None:  # type: ignore[no-untyped-def]
    unicity = exported["telemetry.parquet"][1]["risk"]["unicity"]
    before = {u["p"]: u["unicity"] for u in unicity["before"]}
    after = {u["p"]: u["unicity"] for u in unicity["after"]}
    assert before[4] > 0.8 and after[4] < 0.2
    assert after[2] < before[2]


def test_sidecar_holds_profile_parameters_and_key_ids_never_keys(exported, key: Key) -> None:  # type: ignore[no-untyped-def]
    target, _ = exported["telemetry.parquet"]
    text = target.with_name(target.name + ".desensitize.json").read_text()
    sidecar = json.loads(text)
    assert key.material.hex() not in text
    assert sidecar["profile"] == "export-default" and sidecar["key_ids"] == [key.key_id]
    assert sidecar["operators"][0]["params"]["trim"] == {"metres": 500.0, "seconds": 60.0}
    assert set(sidecar["risk"]) == {"classification", "unicity", "k_anonymity"}


def test_broken_promise_exits_4_and_writes_nothing(
    small_fleet: DemoSummary, tmp_path: Path
) -> None:
    profile = tmp_path / "leaky.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "leaky",
                "promise": {"level": "personal"},
                "steps": [{"op": "drop", "categories": ["person"]}],
            }
        )
    )
    out = tmp_path / "out.parquet"
    proc = cli(
        "desensitize",
        str(small_fleet.files["telemetry.parquet"]),
        "--profile",
        str(profile),
        "--out",
        str(out),
        "--home",
        str(tmp_path),
    )
    assert proc.returncode == 4, proc.stderr
    assert "sensitive_personal" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.desensitize.json"))


def test_missing_areas_is_bad_usage(small_fleet: DemoSummary, tmp_path: Path) -> None:
    proc = cli(
        "desensitize",
        str(small_fleet.files["telemetry.parquet"]),
        "--profile",
        "export-default",
        "--out",
        str(tmp_path / "o.parquet"),
        "--home",
        str(tmp_path),
    )
    assert proc.returncode == 2 and "--areas" in proc.stderr


def test_aggregate_suppresses_and_reports(small_fleet: DemoSummary, key: Key, pack) -> None:  # type: ignore[no-untyped-def]
    table = pq.read_table(small_fleet.files["telemetry.parquet"])
    safe, report = onshore.desensitize(
        table, "export-aggregate", keys=key, areas=areas_of(small_fleet, pack)
    )
    agg = next(o for o in report.operators if o.op == "aggregate")
    assert agg.details["presence"]["groups"] > 0
    assert (
        agg.details["presence"]["groups_suppressed"]
        == agg.details["presence"]["groups"] - (agg.details["presence"]["released"])
    )
    if safe.num_rows:
        assert pc.min(safe.column("vehicle_count")).as_py() >= 10
    assert "vin" not in safe.column_names and report.promise.kept


def test_streamed_in_small_batches_equals_whole(small_fleet: DemoSummary, key: Key, pack) -> None:  # type: ignore[no-untyped-def]
    table = pq.read_table(small_fleet.files["telemetry.parquet"])
    areas = areas_of(small_fleet, pack)
    whole, r1 = onshore.desensitize(table, "export-default", keys=key, areas=areas)
    parts, r2 = onshore.desensitize(
        iter(table.to_batches(max_chunksize=997)), "export-default", keys=key, areas=areas
    )
    order = [(name, "ascending") for name in whole.column_names]  # rows are distinct
    assert whole.sort_by(order).equals(parts.sort_by(order))
    assert r1.unicity_after == r2.unicity_after
