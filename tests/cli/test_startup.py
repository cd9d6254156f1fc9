"""What a command loads before it works (issue 21): `onshore --help` imports no command, each
command imports its own modules only, and `onshore scan` never loads pandas, nor numba for a
job too small to repay it. Checked by what is imported, not by timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

from onshore.cli import COMMANDS, cli

VIN = "1M8GDM9AXKP042788"


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_each_registered_summary_is_the_commands_own() -> None:
    for name, _target, summary in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None, name
        assert not command.hidden
        stand_in = click.Command(name, help=summary)
        assert stand_in.get_short_help_str(200) == command.get_short_help_str(200), name


def test_help_lists_every_command_without_importing_any() -> None:
    code = (
        "from onshore.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.startswith("onshore.cli.") and m != "onshore.cli._common"}
    assert not loaded & {"pyarrow", "numpy", "pandas", "numba", "pydantic"}


def test_scan_loads_neither_pandas_nor_numba_for_a_small_job(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"vin": [VIN] * 3, "lat": [39.9, 39.91, 39.92], "lon": [116.4] * 3}), path
    )
    areas = tmp_path / "areas.geojson"
    square = [[116.39, 39.89], [116.41, 39.89], [116.41, 39.91], [116.39, 39.91], [116.39, 39.89]]
    feature = {
        "type": "Feature",
        "properties": {"id": "a", "kind": "military_zone", "name": "A", "buffer_m": 100},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    args = [str(path), "--json", "--areas", str(areas), "--out", str(tmp_path / "out.parquet")]
    code = (
        "from onshore.cli import main\n"
        "try:\n"
        f"    main(['scan', *{args!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = _modules_after(code)
    assert {"onshore.classify.engine", "onshore.geo.index"} <= loaded
    assert "pandas" not in loaded
    assert "numba" not in loaded
    assert not loaded & {"onshore.ledger", "onshore.app.desensitize", "onshore.cli.store"}


def test_the_library_leaves_pyarrow_alone() -> None:
    loaded = _modules_after("import onshore.cli.scan, pyarrow as pa\npa.scalar(0)")
    assert "pandas" in loaded  # pyarrow's own probe: only the onshore entry point skips it
