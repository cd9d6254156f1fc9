"""``onshore transfer`` takes a lake dataset as the service does: one verb, one meaning."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from onshore.classify.vin import vin_check_char
from onshore.cli import cli
from onshore.errors import BadInput


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


def test_a_request_naming_a_lake_dataset_runs_on_the_lake(tmp_path: Path) -> None:
    home = tmp_path / "home"
    table = pa.table(
        {
            "vin": [_vin(i % 4) for i in range(8)],
            "ts": pa.array(
                list(range(1_780_000_000_000, 1_780_000_008_000, 1000)), pa.timestamp("ms", "UTC")
            ),
            "speed": [float(i) for i in range(8)],
        }
    )
    pq.write_table(table, tmp_path / "speeds.parquet")
    runner = CliRunner()
    put = ["store", "put", str(tmp_path / "speeds.parquet"), "--dataset", "speeds"]
    out = runner.invoke(cli, [*put, "--home", str(home)])
    assert out.exit_code == 0, out.output
    request = {
        "dataset": "speeds",  # not a file: the lake's dataset
        "purpose": "warranty analytics",
        "recipient": {"name": "Acme GmbH", "country": "DE"},
        "impact_assessment": "PIA-1",
        "outbound_basis": "contract",
        "outbound_basis_note": "warranty contract clause 12",
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    out = runner.invoke(
        cli, ["transfer", "run", str(tmp_path / "request.json"), "--home", str(home)]
    )
    assert out.exit_code == 0, out.output
    decision = json.loads(out.stdout)
    assert decision["allowed"] and decision["dataset"] == "speeds"
    manifest = json.loads((Path(decision["package"]) / "manifest.json").read_text())
    assert manifest["dataset"] == "speeds"
    assert pq.read_table(Path(decision["package"]) / "data.parquet").num_rows == 8
    assert not list((home / "outbox" / ".lake-snapshots").iterdir())
    # a name that is neither a file nor a dataset is bad input (exit 2), naming the dataset
    (tmp_path / "none.json").write_text(json.dumps(request | {"dataset": "nothing"}))
    out = runner.invoke(
        cli, ["transfer", "assess", str(tmp_path / "none.json"), "--home", str(home)]
    )
    assert isinstance(out.exception, BadInput) and out.exception.exit_code == 2
    assert "no dataset 'nothing'" in str(out.exception)
