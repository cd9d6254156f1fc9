"""decode_stream (vectorized) equals frames_to_arrow over iter_frames (row by row)."""

from __future__ import annotations

from gbt_strategies import any_frame, block_strategies, frames_for, reports
from hypothesis import given, settings
from hypothesis import strategies as st

from onshore import gbt32960 as g


def _reference(data: bytes, lenient: bool):
    items = [item for _, item in g.iter_frames(data, lenient_bcc=lenient)]
    table = g.frames_to_arrow([i for i in items if isinstance(i, g.Frame)])
    return table, [i for i in items if isinstance(i, g.FrameError)]


def _check(data: bytes, lenient: bool) -> None:
    table, errors = g.decode_stream(data, lenient_bcc=lenient)
    ref_table, ref_errors = _reference(data, lenient)
    assert table.schema == g.SCHEMA
    assert table.equals(ref_table), table.to_pylist() != ref_table.to_pylist()
    assert [(e.offset, e.field, e.record) for e in errors] == [
        (e.offset, e.field, e.record) for e in ref_errors
    ]


realtime = st.one_of(
    *(frames_for(e, g.Command.REALTIME, reports(e)) for e in g.Edition),
    *(frames_for(e, g.Command.RESEND, reports(e)) for e in g.Edition),
    *(
        frames_for(e, g.Command.REALTIME, reports(e, b))
        for e in g.Edition
        for b in block_strategies(e).values()
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(realtime, realtime, any_frame()), max_size=8), st.booleans())
def test_vectorized_equals_row_by_row(frames: list[g.Frame], lenient: bool) -> None:
    _check(b"".join(g.encode_frame(f) for f in frames), lenient)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(realtime, min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    st.booleans(),
)
def test_vectorized_equals_row_by_row_on_damaged_streams(frames, flips, lenient: bool) -> None:
    data = bytearray(b"".join(g.encode_frame(f) for f in frames))
    for at, value in flips:
        data[at % len(data)] = value
    _check(bytes(data), lenient)


def test_empty_stream() -> None:
    table, errors = g.decode_stream(b"")
    assert table.num_rows == 0 and errors == []
