"""Wire primitives: bounded reader and writer, scaled fields, sentinels and collection times.

All multi-byte integers are big-endian (GB/T 32960.3 §6). A scaled field maps a raw unsigned
integer to a physical value as ``(raw + offset) / divisor``; integers stay integers when the
divisor is 1. The raw values ``0xFE``/``0xFFFE``/``0xFFFFFFFE`` mean *abnormal* and
``0xFF``/``0xFFFF``/``0xFFFFFFFF`` mean *invalid*: they decode to a :class:`Sentinel`, never to
a number.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from onshore.gbt32960.errors import EncodeError, FrameError

#: Beijing time, the zone of every timestamp in a frame.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_MAX = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
_FMT = {1: "B", 2: "H", 4: "I"}


class Sentinel(enum.Enum):
    """A field reported as abnormal or invalid instead of a value."""

    ABNORMAL = "abnormal"
    INVALID = "invalid"

    def raw(self, size: int) -> int:
        """The wire value of this sentinel in a field of ``size`` bytes."""
        return _MAX[size] - (1 if self is Sentinel.ABNORMAL else 0)


#: A decoded numeric field: a number, or the sentinel the device sent instead.
Num = int | float | Sentinel


@dataclass(frozen=True)
class Scalar:
    """How one unsigned big-endian field maps to its physical value.

    ``physical = (raw + offset) / divisor`` (an ``int`` when ``divisor == 1``).
    ``sentinels`` says whether the top two raw values are abnormal/invalid markers.
    """

    name: str
    size: int = 1
    divisor: int = 1
    offset: int = 0
    sentinels: bool = True

    def decode(self, raw: int) -> Num:
        """Physical value (or sentinel) of a raw wire value."""
        if self.sentinels:
            top = _MAX[self.size]
            if raw == top:
                return Sentinel.INVALID
            if raw == top - 1:
                return Sentinel.ABNORMAL
        if self.divisor == 1:
            return raw + self.offset
        return (raw + self.offset) / self.divisor

    def encode(self, value: Num) -> int:
        """Raw wire value of a physical value; :class:`EncodeError` when it does not fit."""
        if isinstance(value, Sentinel):
            if not self.sentinels:
                raise EncodeError(f"{self.name} has no {value.value} marker", field=self.name)
            return value.raw(self.size)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EncodeError(f"{self.name} must be a number, not {value!r}", field=self.name)
        raw = (round(value * self.divisor) if self.divisor != 1 else int(value)) - self.offset
        top = _MAX[self.size] - (2 if self.sentinels else 0)
        if not 0 <= raw <= top:
            raise EncodeError(f"{self.name}={value!r} is out of range", field=self.name)
        return raw


class Reader:
    """Bounds-checked big-endian reads over ``data[pos:end]``.

    Every failed read raises :class:`FrameError` naming the field and the absolute byte offset
    (``base + pos``). Nothing is allocated beyond what the input already holds.
    """

    __slots__ = ("base", "data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, base: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.base = base

    @property
    def remaining(self) -> int:
        """Bytes left before ``end``."""
        return self.end - self.pos

    def error(self, message: str, field: str, at: int | None = None) -> FrameError:
        """A :class:`FrameError` at the current (or given) position."""
        return FrameError(message, offset=self.base + (self.pos if at is None else at), field=field)

    def need(self, n: int, field: str) -> None:
        """Fail unless ``n`` more bytes are available."""
        if n > self.end - self.pos:
            raise self.error(f"truncated: {n} bytes needed, {self.end - self.pos} left", field)

    def take(self, n: int, field: str) -> bytes:
        """The next ``n`` bytes."""
        self.need(n, field)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def uint(self, size: int, field: str) -> int:
        """The next unsigned big-endian integer of ``size`` bytes."""
        self.need(size, field)
        p = self.pos
        self.pos = p + size
        if size == 1:
            return self.data[p]
        return int.from_bytes(self.data[p : p + size], "big")

    def scalar(self, spec: Scalar, prefix: str) -> Num:
        """Read and scale one field."""
        return spec.decode(self.uint(spec.size, f"{prefix}.{spec.name}"))

    def array(self, spec: Scalar, count: int, field: str) -> tuple[Num, ...]:
        """``count`` consecutive fields of one kind, scaled (one bounds check, one unpack)."""
        self.need(count * spec.size, field)
        raw = struct.unpack_from(f">{count}{_FMT[spec.size]}", self.data, self.pos)
        self.pos += count * spec.size
        if spec.sentinels and raw and max(raw) >= _MAX[spec.size] - 1:
            return tuple(spec.decode(v) for v in raw)
        off, div = spec.offset, spec.divisor
        if div == 1:
            return raw if off == 0 else tuple(v + off for v in raw)
        return tuple((v + off) / div for v in raw)

    def ascii(self, n: int, field: str) -> str:
        """``n`` bytes of ASCII text (NUL padding kept)."""
        at = self.pos
        raw = self.take(n, field)
        if max(raw, default=0) > 0x7F:
            raise self.error("not ASCII", field, at)
        return raw.decode("ascii")

    def time(self, field: str) -> datetime:
        """A 6-byte collection time (YY MM DD hh mm ss, Beijing time) as a naive datetime."""
        at = self.pos
        yy, mo, dd, hh, mi, ss = self.take(6, field)
        try:
            return datetime(2000 + yy, mo, dd, hh, mi, ss)
        except ValueError:
            raise self.error(
                f"not a date-time: {yy:02d}-{mo:02d}-{dd:02d} {hh:02d}:{mi:02d}:{ss:02d}", field, at
            ) from None


class Writer:
    """Accumulates big-endian fields; range errors raise :class:`EncodeError`."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def uint(self, value: int, size: int, field: str) -> None:
        """Append an unsigned integer of ``size`` bytes."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX[size]:
            raise EncodeError(f"{field}={value!r} does not fit {size} byte(s)", field=field)
        self.buf += value.to_bytes(size, "big")

    def scalar(self, spec: Scalar, value: Num) -> None:
        """Append one scaled field."""
        self.buf += spec.encode(value).to_bytes(spec.size, "big")

    def raw(self, data: bytes) -> None:
        """Append bytes as they are."""
        self.buf += data

    def fixed(self, data: bytes, n: int, field: str) -> None:
        """Append exactly ``n`` bytes."""
        if len(data) != n:
            raise EncodeError(f"{field} must be {n} bytes, not {len(data)}", field=field)
        self.buf += data

    def ascii(self, text: str, n: int, field: str) -> None:
        """Append ``n`` bytes of ASCII text."""
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            raise EncodeError(f"{field} must be ASCII", field=field) from None
        self.fixed(data, n, field)

    def time(self, value: datetime, field: str) -> None:
        """Append a collection time (a naive Beijing wall-clock datetime)."""
        if value.tzinfo is not None:
            value = value.astimezone(BEIJING).replace(tzinfo=None)
        if not 2000 <= value.year <= 2255:
            raise EncodeError(f"{field} year {value.year} is outside 2000–2255", field=field)
        self.buf += bytes(
            (value.year - 2000, value.month, value.day, value.hour, value.minute, value.second)
        )


def beijing_to_utc(local: datetime) -> datetime:
    """Convert a naive Beijing wall-clock time to an aware UTC datetime."""
    return local.replace(tzinfo=BEIJING).astimezone(UTC)
