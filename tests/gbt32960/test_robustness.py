"""Any byte string gives a frame or a FrameError: mutated, truncated and random input."""

from __future__ import annotations

import pytest
from gbt_strategies import any_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from onshore import gbt32960 as g
from onshore.errors import BadInput


def _decode(data: bytes, lenient: bool = False) -> None:
    try:
        g.decode_frame(data, lenient_bcc=lenient)
    except g.FrameError as exc:
        assert isinstance(exc, BadInput)
        assert isinstance(exc.offset, int) and 0 <= exc.offset <= len(data)
        assert exc.field


def _stream(data: bytes) -> None:
    seen = 0
    for offset, item in g.iter_frames(data, lenient_bcc=True):
        assert 0 <= offset <= len(data)
        if isinstance(item, g.FrameError):
            assert 0 <= item.offset <= len(data)
        seen += 1
    assert seen <= len(data)


mutation = st.tuples(st.integers(0, 10_000), st.integers(0, 255))


@settings(max_examples=400, deadline=None)
@given(any_frame(), st.lists(mutation, min_size=1, max_size=4), st.booleans())
def test_mutated_frames_raise_only_frame_error(frame: g.Frame, flips, lenient: bool) -> None:
    raw = bytearray(g.encode_frame(frame))
    for at, value in flips:
        raw[at % len(raw)] = value
    _decode(bytes(raw), lenient)
    _stream(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(any_frame(), st.integers(0, 10_000))
def test_truncated_frames_raise_frame_error(frame: g.Frame, cut: int) -> None:
    raw = g.encode_frame(frame)
    cut %= len(raw)
    with pytest.raises(g.FrameError):
        g.decode_frame(raw[:cut])
    _stream(raw[:cut])


@settings(max_examples=200, deadline=None)
@given(any_frame(), st.integers(0, 10_000), st.binary(min_size=1, max_size=8))
def test_inserted_bytes(frame: g.Frame, at: int, junk: bytes) -> None:
    raw = g.encode_frame(frame)
    at %= len(raw)
    _decode(raw[:at] + junk + raw[at:], True)
    _stream(raw[:at] + junk + raw[at:])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"##", b"$$"]),
    st.binary(min_size=22, max_size=22),
    st.binary(max_size=300),
)
def test_random_bodies_behind_a_valid_header(marker: bytes, header: bytes, data: bytes) -> None:
    """A header with a consistent length and check code forces the payload decoders to run."""
    head = bytearray(header)
    head[1] = 0xFE  # command frame
    head[19] = 0x01  # not encrypted
    head[20:22] = len(data).to_bytes(2, "big")
    body = bytes(head) + data
    raw = marker + body + bytes((g.bcc(body),))
    _decode(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _decode(data)
    _stream(data)


def test_length_cannot_make_the_decoder_allocate() -> None:
    raw = b"##" + bytes((2, 0xFE)) + b"A" * 17 + b"\x01\xff\xff"
    with pytest.raises(g.FrameError) as err:
        g.decode_frame(raw + b"\x00")
    assert err.value.field == "data"


def test_stream_resynchronises_after_a_bad_frame() -> None:
    good = g.encode_frame(g.Frame(g.Edition.V2016, 7, 0xFE, "LSVAG2180CA123456", 1, g.Empty()))
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    stream = b"xx" + good + bytes(bad) + good[:10] + good
    items = list(g.iter_frames(stream))
    kinds = [(o, type(i).__name__) for o, i in items]
    assert kinds == [
        (0, "FrameError"),
        (2, "Frame"),
        (2 + len(good), "FrameError"),
        (2 + 2 * len(good), "FrameError"),  # the cut frame; its header runs into the next one
        (2 + 2 * len(good) + 10, "Frame"),
    ]
    assert [getattr(i, "field", None) for _, i in items][:3] == ["start", None, "bcc"]
