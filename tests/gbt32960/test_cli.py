"""``onshore gbt32960 decode``: JSON lines out, typed errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from onshore import gbt32960 as g
from onshore.cli import cli

VIN = "LSVAG2180CA123456"


def _frames() -> tuple[bytes, bytes]:
    from datetime import datetime

    pos = g.Position(status=0, longitude=116.4, latitude=39.9)
    report = g.RealTimeReport(datetime(2024, 5, 1, 8, 0, 0), (pos,))
    good = g.encode_frame(g.Frame(g.Edition.V2016, 2, 0xFE, VIN, 1, report))
    heartbeat = g.encode_frame(g.Frame(g.Edition.V2016, 7, 0xFE, VIN, 1, g.Empty()))
    return good, heartbeat


def _run(args: list[str]):
    return CliRunner().invoke(cli, ["gbt32960", "decode", *args])


def test_binary_stream_to_json_lines(tmp_path: Path) -> None:
    good, heartbeat = _frames()
    path = tmp_path / "frames.bin"
    path.write_bytes(good + heartbeat)
    result = _run([str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["offset"] for x in lines] == [0, len(good)]
    record = lines[0]["record"]
    assert record["vin"] == VIN and record["lat"] == 39.9 and record["lon"] == 116.4
    assert record["ts"].startswith("2024-05-01T00:00:00")
    assert lines[1]["type"] == "Empty"


def test_hex_lines_and_keep_going(tmp_path: Path) -> None:
    good, heartbeat = _frames()
    bad = good[:-1] + bytes((good[-1] ^ 1,))
    path = tmp_path / "frames.txt"
    path.write_text(f"{good.hex()}\n0x{bad.hex().upper()}\n\n{heartbeat.hex()}\n")
    result = _run([str(path), "--keep-going"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    error = json.loads(result.stderr.splitlines()[0])
    assert error["line"] == 2 and error["field"] == "bcc" and error["offset"] == len(bad) - 1
    lenient = _run([str(path), "--lenient-bcc"])
    assert lenient.exit_code == 0
    assert [json.loads(x)["bcc_ok"] for x in lenient.stdout.splitlines()] == [True, False, True]


def test_first_rejected_frame_stops_with_exit_2(tmp_path: Path) -> None:
    good, _ = _frames()
    path = tmp_path / "frames.bin"
    path.write_bytes(good + good[:30])
    from onshore.cli._common import run_guarded

    assert run_guarded(cli, ["gbt32960", "decode", str(path)]) == 2


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["gbt32960", "decode", "--help"])
    assert "Example:" in result.output and "--keep-going" in result.output
