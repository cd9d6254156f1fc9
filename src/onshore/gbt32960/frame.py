"""The frame (§5.1): start characters, 22-byte header, data unit, BCC; decode and encode.

Layout (offsets from the first start byte)::

    0  start   2   "##" (2016) or "$$" (2025)
    2  command 1
    3  response flag 1
    4  VIN     17  ASCII
    21 encryption 1
    22 data-unit length 2 (big-endian)
    24 data unit
    24+n BCC   1   XOR of bytes 2 … 23+n
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from operator import xor

import numpy as np

from onshore.gbt32960 import editions as ed
from onshore.gbt32960.editions import Command, Edition, ResponseFlag
from onshore.gbt32960.errors import EncodeError, FrameError
from onshore.gbt32960.payloads import (
    COMMAND_CODECS,
    QUERY_ANSWER_CODEC,
    RESPONSE_CODEC,
    Activation,
    ActivationResponse,
    Empty,
    KeySync,
    Logout,
    Opaque,
    ParameterQuery,
    Parameters,
    PlatformLogin,
    Response,
    TerminalControl,
    VehicleLogin,
)
from onshore.gbt32960.realtime import RealTimeReport, decode_realtime, encode_realtime
from onshore.gbt32960.values import Reader, Writer

HEADER = 24  # start characters + 22-byte header
OVERHEAD = HEADER + 1  # + BCC
MAX_FRAME = OVERHEAD + 0xFFFF

Payload = (
    RealTimeReport
    | VehicleLogin
    | Logout
    | PlatformLogin
    | Empty
    | ParameterQuery
    | Parameters
    | TerminalControl
    | Activation
    | ActivationResponse
    | KeySync
    | Response
    | Opaque
)


@dataclass(frozen=True)
class Frame:
    """One decoded GB/T 32960.3 frame.

    ``command``, ``response`` and ``encryption`` are the raw bytes (compare them with
    :class:`Command`, :class:`ResponseFlag`, :class:`Encryption`). ``bcc_ok`` is ``False``
    only for a frame decoded with ``lenient_bcc=True`` whose check code did not verify.
    """

    edition: Edition
    command: int
    response: int
    vin: str
    encryption: int
    payload: Payload
    bcc_ok: bool = True

    @property
    def is_realtime(self) -> bool:
        """Whether this is a decoded real-time report or re-send."""
        return isinstance(self.payload, RealTimeReport)


def bcc(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes of ``data`` (pass the bytes from the command through the data unit)."""
    if len(data) < 64:
        return reduce(xor, data, 0)
    return int(np.bitwise_xor.reduce(np.frombuffer(data, dtype=np.uint8)))


def _payload_kind(
    command: int, response: int, encryption: int, edition: Edition
) -> tuple[type | None, object]:
    """The payload class and codec for a header; ``(None, None)`` means opaque bytes."""
    if encryption != ed.Encryption.NONE:
        return None, None
    if response != ResponseFlag.COMMAND:
        if command == Command.QUERY:
            return Parameters, QUERY_ANSWER_CODEC
        return Response, RESPONSE_CODEC
    if command in (Command.REALTIME, Command.RESEND):
        return RealTimeReport, None
    if edition is Edition.V2016 and command in ed.COMMANDS_2025_ONLY:
        return None, None
    entry = COMMAND_CODECS.get(command)
    if entry is None:
        return None, None
    return entry


def _decode_payload(
    data: bytes, command: int, response: int, encryption: int, edition: Edition
) -> Payload:
    cls, codec = _payload_kind(command, response, encryption, edition)
    if cls is None:
        return Opaque(bytes(data))
    if cls is RealTimeReport:
        return decode_realtime(data, edition, base=HEADER)
    r = Reader(data, base=HEADER)
    payload = codec[0](r, edition)  # type: ignore[index]
    if r.pos != r.end:
        raise r.error(f"{r.remaining} unexpected bytes after the data unit", "data")
    return payload  # type: ignore[no-any-return]


def decode_frame(data: bytes, *, lenient_bcc: bool = False) -> Frame:
    """Decode exactly one frame.

    Raises :class:`FrameError` (with ``offset`` and ``field``) for anything that is not a
    valid frame, and nothing else. With ``lenient_bcc=True`` a wrong check code is accepted
    and flagged (``bcc_ok=False``) instead.

    >>> heartbeat = bytes.fromhex("2323" "07FE") + b"LSVAG2180CA123456" + bytes.fromhex("010000B9")
    >>> decode_frame(heartbeat).payload
    Empty()
    >>> decode_frame(heartbeat[:-1] + b"\\x00")
    Traceback (most recent call last):
    ...
    onshore.gbt32960.errors.FrameError: field 'bcc': check code 0x00, computed 0xB9 at byte 24
    """
    data = bytes(data)
    if len(data) < OVERHEAD:
        raise FrameError(
            f"truncated: a frame has at least {OVERHEAD} bytes, got {len(data)}",
            offset=len(data),
            field="header",
        )
    edition = Edition.from_marker(data[:2])
    if edition is None:
        raise FrameError("no start characters ('##' or '$$')", offset=0, field="start")
    command, response = data[2], data[3]
    if response not in ed.RESPONSE_FLAGS[edition]:
        raise FrameError(f"unknown response flag 0x{response:02X}", offset=3, field="response")
    vin_raw = data[4:21]
    if max(vin_raw) > 0x7F:
        raise FrameError("VIN is not ASCII", offset=4, field="vin")
    encryption = data[21]
    if encryption not in ed.ENCRYPTIONS[edition]:
        raise FrameError(f"unknown encryption 0x{encryption:02X}", offset=21, field="encryption")
    length = int.from_bytes(data[22:24], "big")
    if len(data) < OVERHEAD + length:
        raise FrameError(
            f"truncated: length says {OVERHEAD + length} bytes, got {len(data)}",
            offset=len(data),
            field="data",
        )
    if len(data) > OVERHEAD + length:
        raise FrameError(
            f"{len(data) - OVERHEAD - length} bytes after the check code",
            offset=OVERHEAD + length,
            field="length",
        )
    check = bcc(memoryview(data)[2 : HEADER + length])
    ok = check == data[HEADER + length]
    if not ok and not lenient_bcc:
        raise FrameError(
            f"check code 0x{data[HEADER + length]:02X}, computed 0x{check:02X}",
            offset=HEADER + length,
            field="bcc",
        )
    payload = _decode_payload(
        data[HEADER : HEADER + length], command, response, encryption, edition
    )
    return Frame(edition, command, response, vin_raw.decode("ascii"), encryption, payload, ok)


def encode_frame(frame: Frame) -> bytes:
    """Encode a frame, computing its length and check code (``bcc_ok`` is ignored).

    Raises :class:`~onshore.gbt32960.EncodeError` when a value does not fit or the payload
    does not match the header.
    """
    edition = Edition(frame.edition)
    cls, codec = _payload_kind(frame.command, frame.response, frame.encryption, edition)
    expected = Opaque if cls is None else cls
    if not isinstance(frame.payload, expected):
        raise EncodeError(
            f"command 0x{frame.command:02X} needs a {expected.__name__} payload",
            field="payload",
        )
    if isinstance(frame.payload, Opaque):
        data = frame.payload.data
    elif isinstance(frame.payload, RealTimeReport):
        data = encode_realtime(frame.payload, edition)
    else:
        w = Writer()
        codec[1](w, frame.payload, edition)  # type: ignore[index]
        data = bytes(w.buf)
    w = Writer()
    w.uint(frame.command, 1, "command")
    if frame.response not in ed.RESPONSE_FLAGS[edition]:
        raise EncodeError(f"response flag 0x{frame.response:02X}", field="response")
    w.uint(frame.response, 1, "response")
    w.ascii(frame.vin, 17, "vin")
    if frame.encryption not in ed.ENCRYPTIONS[edition]:
        raise EncodeError(f"encryption 0x{frame.encryption:02X}", field="encryption")
    w.uint(frame.encryption, 1, "encryption")
    w.uint(len(data), 2, "length")
    w.raw(data)
    body = bytes(w.buf)
    return edition.marker + body + bytes((bcc(body),))


class _Markers:
    """Next start marker at or after an offset; remembers each search, so a stream with
    only one edition's marker is not rescanned for the other one (linear overall)."""

    __slots__ = ("data", "hits")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.hits = {b"##": -1, b"$$": -1}

    def next(self, start: int) -> int:
        n = len(self.data)
        best = n
        for marker, hit in self.hits.items():
            if hit != n and hit < start:
                hit = self.data.find(marker, start)
                hit = n if hit < 0 else hit
                self.hits[marker] = hit
            if start <= hit < best:
                best = hit
        return best


def iter_frames(
    data: bytes, *, lenient_bcc: bool = False
) -> Iterator[tuple[int, Frame | FrameError]]:
    """Decode a concatenated stream: ``(offset, frame or error)`` per candidate, in order.

    Error offsets are stream offsets; ``FrameError.record`` is the index of the candidate.
    Bytes before a start marker give one error. A bad frame whose declared end is followed by
    the end of the stream or another start marker is skipped whole; otherwise decoding
    resumes at the next start marker after its first byte, so a corrupted length cannot
    swallow the frames after it.
    """
    data = bytes(data)
    n = len(data)
    pos = 0
    record = 0
    markers = _Markers(data)
    while pos < n:
        at = markers.next(pos)
        if at > pos:
            yield pos, FrameError(f"{at - pos} bytes outside any frame", offset=pos, field="start")
            record += 1
            pos = at
            continue
        end = pos + OVERHEAD + int.from_bytes(data[pos + 22 : pos + 24], "big")
        if n - pos < HEADER:
            end = n + 1
        try:
            if end > n:
                decode_frame(data[pos:n])  # raises the truncation error
            yield pos, decode_frame(data[pos:end], lenient_bcc=lenient_bcc)
            pos = end
        except FrameError as exc:
            yield pos, exc.shifted(pos, record=record)
            if end <= n and (end == n or data[end : end + 2] in (b"##", b"$$")):
                pos = end
            else:
                pos = markers.next(pos + 1)
        record += 1
