"""encode → decode gives back the same value, for every command and info type of both editions."""

from __future__ import annotations

from datetime import datetime

import pytest
from gbt_strategies import (
    any_frame,
    block_strategies,
    command_payloads,
    frames_for,
    reports,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from onshore import gbt32960 as g

E16, E25 = g.Edition.V2016, g.Edition.V2025

COMMAND_CASES = [(e, c) for e in g.Edition for c in command_payloads(e)]
BLOCK_CASES = [(e, name) for e in g.Edition for name in block_strategies(e)]


@pytest.mark.parametrize(("edition", "command"), COMMAND_CASES, ids=lambda x: str(int(x)))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_command_round_trips(data: st.DataObject, edition: g.Edition, command: int) -> None:
    frame = data.draw(frames_for(edition, command, command_payloads(edition)[command]))
    encoded = g.encode_frame(frame)
    assert encoded[:2] == edition.marker
    assert g.decode_frame(encoded) == frame


@pytest.mark.parametrize(("edition", "block"), BLOCK_CASES, ids=str)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_info_type_round_trips(data: st.DataObject, edition: g.Edition, block: str) -> None:
    payload = reports(edition, block_strategies(edition)[block])
    frame = data.draw(frames_for(edition, g.Command.REALTIME, payload))
    assert g.decode_frame(g.encode_frame(frame)) == frame


@settings(max_examples=300, deadline=None)
@given(any_frame())
def test_any_frame_round_trips(frame: g.Frame) -> None:
    assert g.decode_frame(g.encode_frame(frame)) == frame


@settings(max_examples=50, deadline=None)
@given(st.lists(any_frame(), max_size=6))
def test_streams_round_trip(frames: list[g.Frame]) -> None:
    stream = b"".join(g.encode_frame(f) for f in frames)
    decoded = [f for _, f in g.iter_frames(stream)]
    assert decoded == frames


def test_sentinels_decode_as_flags_not_numbers() -> None:
    vehicle = g.VehicleData(
        vehicle_state=g.Sentinel.ABNORMAL,
        charging_state=3,
        operating_mode=1,
        speed=g.Sentinel.INVALID,
        odometer=1.5,
        total_voltage=300.0,
        total_current=-2.5,
        soc=50,
        dcdc_state=1,
        gear=14,
        insulation_resistance=g.Sentinel.ABNORMAL,
    )
    report = g.RealTimeReport(
        datetime(2024, 1, 1, 8),
        (vehicle,),
        g.Signature(1, b"r", b"s"),
    )
    frame = g.Frame(E25, g.Command.REALTIME, 0xFE, "LSVAG2180CA123456", 1, report)
    raw = g.encode_frame(frame)
    # speed is the WORD at data offset 6 (time) + 1 (type) + 3 bytes: 0xFFFF = invalid
    assert raw[24 + 6 + 1 + 3 : 24 + 6 + 1 + 5] == b"\xff\xff"
    decoded = g.decode_frame(raw).payload
    assert isinstance(decoded, g.RealTimeReport)
    assert decoded.blocks[0].speed is g.Sentinel.INVALID
    assert decoded.blocks[0].vehicle_state is g.Sentinel.ABNORMAL
    assert decoded.time_utc.hour == 0  # 08:00 Beijing is 00:00 UTC


def test_encode_rejects_values_that_do_not_fit() -> None:
    bad = g.Engine(crankshaft_speed=70000)
    frame = g.Frame(
        E25,
        2,
        0xFE,
        "X" * 17,
        1,
        g.RealTimeReport(datetime(2024, 1, 1), (bad,), g.Signature(1, b"", b"")),
    )
    with pytest.raises(g.EncodeError):
        g.encode_frame(frame)
    extremes_in_2025 = g.Extremes(*([1] * 12))
    frame = g.Frame(
        E25,
        2,
        0xFE,
        "X" * 17,
        1,
        g.RealTimeReport(datetime(2024, 1, 1), (extremes_in_2025,), g.Signature(1, b"", b"")),
    )
    with pytest.raises(g.EncodeError):
        g.encode_frame(frame)
