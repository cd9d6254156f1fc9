"""Vectorized coercion and VIN checks."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from onshore.classify.coerce import cast_isolating, to_float64, to_timestamp
from onshore.classify.vin import check_vins, vin_check_char


def test_float_strings() -> None:
    values, bad = to_float64(pa.array([" 1.5", "abc", "", "2e3", None, "NaN"]))
    assert values.to_pylist()[:5] == [1.5, None, None, 2000.0, None]
    assert bad.tolist() == [False, True, False, False, False, False]


def test_timestamps_with_and_without_zone() -> None:
    values, bad = to_timestamp(
        pa.array(["2008-10-23T10:53:04+08:00", "2008-10-23 02:53:04", "2008-13-01", "x", None])
    )
    got = [v.isoformat() if v else None for v in values.to_pylist()]
    assert got[:2] == ["2008-10-23T02:53:04+00:00"] * 2
    assert bad.tolist() == [False, False, True, True, False]


def test_epoch_seconds_and_millis() -> None:
    s, _ = to_timestamp(pa.array([1224730384]))
    ms, _ = to_timestamp(pa.array([1224730384000]))
    assert s.to_pylist() == ms.to_pylist()


@given(st.lists(st.one_of(st.none(), st.text(max_size=6), st.integers().map(str)), max_size=40))
def test_cast_isolating_flags_exactly_the_unconvertible(values: list[str | None]) -> None:
    out, bad = cast_isolating(pa.array(values, pa.string()), pa.int64())
    for value, got, flagged in zip(values, out.to_pylist(), bad.tolist(), strict=True):
        try:
            expected = None if value is None else pa.array([value]).cast(pa.int64())[0].as_py()
            ok = True
        except (pa.ArrowInvalid, OverflowError):
            expected, ok = None, False
        assert got == expected
        assert flagged == (not ok)


def test_vin_check_digit() -> None:
    body = "LSVAU2180N2183294"
    fixed = body[:8] + vin_check_char(body) + body[9:]
    assert check_vins(pa.array([fixed])).tolist() == ["ok"]
    wrong = fixed[:8] + ("1" if fixed[8] != "1" else "2") + fixed[9:]
    assert check_vins(pa.array([wrong, "IOQ" * 5 + "12", None])).tolist() == [
        "check_digit",
        "format",
        "null",
    ]
