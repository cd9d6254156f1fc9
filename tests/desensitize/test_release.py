"""What a run releases: the file it names is there (also with no row), duplicate rows are
folded with a count, and grid positions carry the grid's precision only."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import onshore
from onshore.cli import cli
from onshore.demo import DemoSummary
from onshore.errors import PackError
from onshore.keystore import Key
from onshore.packs.profiles import Profile

from .conftest import areas_of


def run_cli(*argv: str, home: Path, key: Key) -> tuple[int, str]:
    env = {"ONSHORE_HOME": str(home), "ONSHORE_KEY_HMAC_SHA256": key.material.hex()}
    result = CliRunner().invoke(cli, list(argv), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def wrote(output: str) -> list[Path]:
    """The paths of every ``Wrote A and B`` line."""
    flat = " ".join(output.split())  # the console may wrap a long line
    paths: list[Path] = []
    for names in re.findall(r"Wrote (\S+(?: and \S+)*)", flat):
        paths += [Path(p) for p in names.split(" and ")]
    return paths


def test_no_group_reaching_k_writes_an_empty_file_with_its_schema_and_says_so(
    small_fleet: DemoSummary, key: Key, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "folder" / "export-aggregate.parquet"
    code, output = run_cli(
        "desensitize",
        str(small_fleet.files["telemetry.parquet"]),
        "--profile",
        "export-aggregate",
        "--areas",
        str(small_fleet.files["areas.geojson"]),
        "--out",
        str(out),
        home=tmp_path / "home",
        key=key,
    )
    assert code == 0, output
    assert "0 rows released: no group reached k = 10" in " ".join(output.split())
    claimed = wrote(output)
    assert out in claimed
    for path in claimed:  # never a file that is not there
        assert path.is_file(), f"claimed {path}, which does not exist"
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert {"flow", "cell", "cell_lon", "cell_lat", "vehicle_count"} <= set(table.column_names)
    assert table.schema.field("vehicle_count").type == pa.int64()


def test_export_default_folds_duplicates_with_a_count_and_rounds_to_the_grid(
    small_fleet: DemoSummary, key: Key, pack: onshore.Pack
) -> None:
    table = pq.read_table(small_fleet.files["telemetry.parquet"])
    areas = areas_of(small_fleet, pack)
    out, report = onshore.desensitize(table, "export-default", keys=key, areas=areas)
    assert "row_count" in out.column_names
    keys = [n for n in out.column_names if n != "row_count"]
    assert out.group_by(keys).aggregate([]).num_rows == out.num_rows  # no duplicate left
    steps = {op.op: op for op in report.operators}
    folded = steps["deduplicate"]
    assert folded.rows_out == out.num_rows < folded.rows_in / 5  # most rows were duplicates
    assert sum(out.column("row_count").to_pylist()) == folded.rows_in
    assert out.column("crs").unique().to_pylist() == ["gcj02"]
    for name in ("lat", "lon"):  # a 500 m grid: 4 decimals of a degree, not 14
        values = out.column(name).to_numpy()
        np.testing.assert_array_equal(np.round(values, 4), values)
    # the risk figures are those of the rows before folding: each row still has its subject
    assert report.rows_out == out.num_rows


def test_folding_keeps_rows_of_different_subjects_apart(pack: onshore.Pack, key: Key) -> None:
    profile = Profile.model_validate(
        {
            "name": "fold",
            "promise": {"level": "important"},
            "steps": [{"op": "drop", "fields": ["vin"]}, {"op": "deduplicate", "count": "n"}],
        }
    )
    table = pa.table(
        {
            "vin": ["LSVAU2180N2183294"] * 3 + ["LSVAU2180N2183295"],
            "soc": [80.0, 80.0, 80.0, 80.0],
        }
    )
    out, _ = onshore.desensitize(table, profile, keys=key)
    assert out.column_names == ["soc", "n"]
    assert sorted(out.column("n").to_pylist()) == [1, 3]


def test_deduplicate_must_be_last_and_its_count_must_be_a_new_column(
    pack: onshore.Pack, key: Key
) -> None:
    with pytest.raises(ValueError, match="'deduplicate' must be the last step"):
        Profile.model_validate(
            {
                "name": "bad",
                "promise": {"level": "important"},
                "steps": [{"op": "deduplicate"}, {"op": "drop", "fields": ["soc"]}],
            }
        )
    profile = Profile.model_validate(
        {"name": "clash", "promise": {"level": "important"}, "steps": [{"op": "deduplicate"}]}
    )
    with pytest.raises(onshore.OnshoreError, match="count column 'row_count'"):
        onshore.desensitize(pa.table({"row_count": [1, 1]}), profile, keys=key)
    with pytest.raises((ValueError, PackError)):
        Profile.model_validate(
            {
                "name": "badname",
                "promise": {"level": "important"},
                "steps": [{"op": "deduplicate", "count": "__onshore_x"}],
            }
        )
