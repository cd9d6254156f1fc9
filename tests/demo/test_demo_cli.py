"""``onshore demo-data`` on the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli._common import run_guarded
from onshore.cli.demo import demo_data


def test_cli_writes_and_prints_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(demo_data, [str(tmp_path / "d"), "--vehicles", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["vehicles"] == 2 and summary["telemetry_rows"] > 0
    assert Path(summary["files"]["telemetry.parquet"]).is_file()


def test_cli_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(demo_data, [str(tmp_path / "d"), "--vehicles", "2"])
    assert result.exit_code == 0, result.output
    assert "telemetry.parquet" in result.output and "onshore scan" in result.output


def test_cli_help_has_an_example() -> None:
    result = CliRunner().invoke(demo_data, ["--help"])
    assert result.exit_code == 0 and "onshore demo-data sample/" in result.output


@pytest.mark.parametrize("args", [["--vehicles", "0"], ["--start", "2026-02-30"], ["--days", "-1"]])
def test_cli_bad_options_exit_2(tmp_path: Path, args: list[str]) -> None:
    assert run_guarded(demo_data, [str(tmp_path / "d"), *args]) == 2


def test_cli_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    assert run_guarded(demo_data, [str(tmp_path), "--vehicles", "1"]) == 2
    assert run_guarded(demo_data, [str(tmp_path), "--vehicles", "1", "--force"]) == 0


@pytest.mark.slow
def test_thousand_cars_one_day_under_a_minute(tmp_path: Path) -> None:
    began = time.perf_counter()
    code = run_guarded(demo_data, [str(tmp_path / "big"), "--vehicles", "1000", "--json"])
    elapsed = time.perf_counter() - began
    assert code == 0
    assert elapsed < 60, f"{elapsed:.1f} s"
