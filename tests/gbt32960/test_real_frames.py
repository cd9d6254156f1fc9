"""The 113 public frames in ../shared/data/real/gbt32960_frames (see its PROVENANCE.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from onshore import gbt32960 as g
from onshore.gbt32960.arrow import frames_to_arrow

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "gbt32960_frames"

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def frames() -> list[tuple[dict[str, str], bytes]]:
    if not (REAL / "frames.txt").is_file():
        pytest.skip(f"{REAL} is absent")
    lines = (REAL / "frames.txt").read_text().split()
    with (REAL / "frames_index.csv").open(newline="") as fh:
        index = list(csv.DictReader(fh))
    assert len(lines) == len(index) == 113
    return [(row, bytes.fromhex(line)) for row, line in zip(index, lines, strict=True)]


def _verified(frames):
    return [(r, b) for r, b in frames if r["length_ok"] == "True" and r["bcc_ok"] == "True"]


def test_the_14_verified_frames_decode_completely(frames) -> None:
    good = _verified(frames)
    assert len(good) == 14
    for row, raw in good:
        frame = g.decode_frame(raw)
        assert frame.bcc_ok
        assert frame.vin == row["vin"]
        assert frame.command == int(row["cmd"], 16)
        assert frame.payload.time.isoformat() == row["collect_time_in_frame"]
        assert g.encode_frame(frame) == raw  # nothing was skipped or kept loosely
        if isinstance(frame.payload, g.RealTimeReport):
            assert frame.payload.blocks


def test_bad_check_codes_are_rejected_and_decode_flagged_when_lenient(frames) -> None:
    bad = [(r, b) for r, b in frames if r["length_ok"] == "True" and r["bcc_ok"] == "False"]
    assert len(bad) == 98
    for _row, raw in bad:
        with pytest.raises(g.FrameError) as err:
            g.decode_frame(raw)
        assert err.value.field == "bcc"
        assert err.value.offset == len(raw) - 1
        frame = g.decode_frame(raw, lenient_bcc=True)
        assert frame.bcc_ok is False
        assert frame.vin == "TEST5VIN500160001"


def test_the_truncated_frame_is_rejected(frames) -> None:
    short = [(r, b) for r, b in frames if r["length_ok"] == "False"]
    assert len(short) == 1
    for lenient in (False, True):
        with pytest.raises(g.FrameError) as err:
            g.decode_frame(short[0][1], lenient_bcc=lenient)
        assert err.value.field == "data"


def test_real_frames_become_canonical_rows(frames) -> None:
    decoded = [g.decode_frame(raw) for _, raw in _verified(frames)]
    table = frames_to_arrow(decoded)
    assert table.num_rows == sum(f.is_realtime for f in decoded) == 11
    row = table.slice(0, 1).to_pylist()[0]  # frame 100: 2021-08-20 09:59:10 Beijing
    assert row["vin"] == "WLGY0011600000003"
    assert row["ts"].isoformat() == "2021-08-20T01:59:10+00:00"
    assert row["lat"] == pytest.approx(30.326416) and row["lon"] == pytest.approx(121.245096)
    assert row["gbt32960.position_valid"] is False
    assert row["Vehicle.Speed"] == 8.0
    assert row["Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"] == 100
    assert len(row["gbt32960.storage_voltages"][0]["cell_voltages"]) == 100


def test_the_whole_file_as_one_stream(frames) -> None:
    stream = b"".join(raw for _, raw in frames)
    items = [item for _, item in g.iter_frames(stream)]
    assert sum(isinstance(i, g.Frame) for i in items) == 14
    errors = [i for i in items if isinstance(i, g.FrameError)]
    assert [e.field for e in errors] == ["bcc"] * 98 + ["data"]
    lenient = [item for _, item in g.iter_frames(stream, lenient_bcc=True)]
    assert sum(isinstance(i, g.Frame) for i in lenient) == 112
