"""``onshore desensitize --engine spark``: the embedded engine's rows (as a multiset), sidecar
figures and promise check, on the demo fleet written as a multi-file Parquet folder whose files
split vehicles, read by Spark in several partitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.demo import DemoSummary, write_demo
from onshore.packs import load_pack

from .test_spark_scan import _plain

KEY = {"ONSHORE_KEY_HMAC_SHA256": bytes(range(32)).hex()}
PROFILES = ["internal-analytics", "export-default", "export-aggregate", "aggregate-k2"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, Path]:
    """The demo fleet (6 cars, one day), and its telemetry split into 5 files mid-vehicle."""
    root = tmp_path_factory.mktemp("spark-fleet")
    summary = write_demo(root / "demo", seed=3, vehicles=6, days=1)
    table = pq.read_table(summary.files["telemetry.parquet"])
    lake = root / "lake"
    lake.mkdir()
    step = -(-table.num_rows // 5)
    for k in range(5):  # files in reverse, so that no file order matches the vehicle order
        pq.write_table(table.slice((4 - k) * step, step), lake / f"part-{k}.parquet")
    return summary, lake


def _profile(name: str, folder: Path) -> str:
    if name != "aggregate-k2":
        return name
    data = load_pack().profile("export-aggregate").model_dump(mode="json", exclude_none=True)
    data["name"] = "aggregate-k2"  # k = 2: a small fleet releases groups
    data["steps"][-1]["k"] = 2
    (folder / "aggregate-k2.yaml").write_text(yaml.safe_dump(data))
    return str(folder / "aggregate-k2.yaml")


def _run(args: list[str], home: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--home", str(home)], env=KEY)
    return result.exit_code, result.stdout


def _rows(path: Path) -> list[tuple[Any, ...]]:
    table = pq.read_table(path)
    table = table.cast(pa.schema([_plain(f) for f in table.schema]))
    return sorted((tuple(r.items()) for r in table.to_pylist()), key=repr)


def _comparable(sidecar: dict[str, Any]) -> dict[str, Any]:
    """The sidecar without what names the engine's own files."""
    out = {k: v for k, v in sidecar.items() if k not in ("input", "output")}
    out["risk"]["classification"]["after_assessment"].pop("source")
    return out


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("name", PROFILES)
def test_spark_desensitize_equals_embedded(
    name: str, fleet: tuple[DemoSummary, Path], tmp_path: Path, spark: Any
) -> None:
    summary, lake = fleet
    profile = _profile(name, tmp_path)
    common = ["--profile", profile, "--areas", str(summary.files["areas.geojson"]), "--json"]
    embedded = tmp_path / "embedded.parquet"
    code, e_out = _run(
        ["desensitize", str(summary.files["telemetry.parquet"]), *common, "--out", str(embedded)],
        tmp_path,
    )
    assert code == 0, e_out
    on_spark = tmp_path / "spark"
    code, s_out = _run(
        ["desensitize", str(lake), *common, "--out", str(on_spark), "--engine", "spark"],
        tmp_path,
    )
    assert code == 0, s_out
    assert spark.sparkContext.defaultParallelism == 2  # the session fixture's local[2]
    assert spark.read.parquet(str(lake)).rdd.getNumPartitions() >= 2
    e = json.loads(embedded.with_name("embedded.parquet.desensitize.json").read_text())
    s = json.loads((tmp_path / "spark.desensitize.json").read_text())
    assert json.loads(s_out) == s and s["output"] == str(on_spark)
    assert _comparable(s) == _comparable(e)
    assert (on_spark / "_SUCCESS").exists()  # also with no row: the columns, no row
    assert _rows(on_spark) == _rows(embedded)
    if not s["rows"]["out"]:
        assert spark.read.parquet(str(on_spark)).columns == pq.read_schema(embedded).names
    if name == "aggregate-k2":
        assert s["rows"]["out"] > 0
    if name == "export-default":  # trips cut across files, per-trip pseudonyms: the same
        assert s["operators"][0]["details"]["trips"] > 6


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_refuses_a_broken_promise_and_writes_nothing(
    fleet: tuple[DemoSummary, Path], tmp_path: Path, spark: Any
) -> None:
    _, lake = fleet
    mine = tmp_path / "leaky.yaml"  # promises personal, keeps trajectories: sensitive personal
    mine.write_text(
        yaml.safe_dump(
            {
                "name": "leaky",
                "promise": {"level": "personal"},
                "steps": [{"op": "drop", "categories": ["vehicle.identity"]}],
            }
        )
    )
    out = tmp_path / "out"
    args = ["desensitize", str(lake), "--profile", str(mine), "--out", str(out)]
    args += ["--engine", "spark", "--json", "--home", str(tmp_path)]
    assert run_guarded(cli, args) == 4
    assert not out.exists() and not (tmp_path / "out.desensitize.json").exists()


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_quarantines_bad_rows_by_file_and_row(tmp_path: Path, spark: Any) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    vins = ["1M8GDM9AXKP042788", "LSVAU2180N2183294"]
    for k in range(2):
        pq.write_table(
            pa.table(
                {
                    "vin": vins,
                    "ts": pa.array([1_700_000_000_000 + k, 1_700_000_001_000], pa.timestamp("ms")),
                    "lat": [39.9, 95.0],  # the second row's latitude is out of range
                    "lon": [116.3, 116.4],
                }
            ),
            lake / f"part-{k}.parquet",
        )
    areas = tmp_path / "areas.geojson"
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    out = tmp_path / "out"
    code, output = _run(
        [
            *("desensitize", str(lake), "--profile", "internal-analytics"),
            *("--areas", str(areas), "--out", str(out), "--engine", "spark", "--json"),
            *("--batch-rows", "1"),  # the bad rows come in a partition's second batch
        ],
        tmp_path,
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["rows"] == {"in": 2, "out": 2, "quarantined": 2}
    bad = [json.loads(x) for x in (tmp_path / "out.quarantine.jsonl").read_text().splitlines()]
    assert sorted((Path(b["source"]).name, b["row"], b["field"]) for b in bad) == [
        ("part-0.parquet", 1, "lat"),
        ("part-1.parquet", 1, "lat"),
    ]


def test_spark_desensitize_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any Spark starts: runs without PySpark or Java."""
    trips = tmp_path / "trips.csv"
    trips.write_text("vin,speed\n1M8GDM9AXKP042788,3\n")
    base = ["desensitize", str(trips), "--profile", "export-aggregate", "--home", str(tmp_path)]
    assert run_guarded(cli, [*base, "--out", str(tmp_path / "o"), "--engine", "spark"]) == 2
    assert "Parquet" in capsys.readouterr().err
    assert run_guarded(cli, [*base, "--out", str(tmp_path / "o"), "--master", "local[1]"]) == 2
    assert "--engine spark" in capsys.readouterr().err
