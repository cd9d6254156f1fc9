"""One pass over a real-time frame that only records where its blocks and items start.

Used by :mod:`onshore.gbt32960.stream`; anything unusual makes :func:`walk` return ``False``
and the frame goes through the full decoder instead, which gives the exact error.
"""

from __future__ import annotations

from collections import defaultdict

from onshore.gbt32960 import editions as ed
from onshore.gbt32960.blocks import DriveMotor, Engine, Extremes, Position, VehicleData
from onshore.gbt32960.editions import Edition
from onshore.gbt32960.realtime import _find_signature

_MDAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _size(specs: tuple) -> int:  # type: ignore[type-arg]
    return sum(s.size for s in specs)


_SIZES = {
    e: {
        "vehicle": _size(VehicleData.FIELDS[e]),
        "motor": _size(DriveMotor.FIELDS[e]),
        "engine": _size(Engine.FIELDS[e]),
        "position": _size(Position.FIELDS[e]),
        "extremes": _size(Extremes.FIELDS[Edition.V2016]),
    }
    for e in Edition
}


class Layout:
    """Where things are, for all accepted frames of one edition (absolute byte offsets).

    ``rows[kind]``/``offs[kind]`` list (row, offset) per block or item kind; ``extra[kind]``
    holds the per-item counts and data offsets of variable-length items.
    """

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.frame: list[int] = []
        self.rows: defaultdict[str, list[int]] = defaultdict(list)
        self.offs: defaultdict[str, list[int]] = defaultdict(list)
        self.extra: defaultdict[str, list[int]] = defaultdict(list)
        self.raw: list[tuple[int, int, int, int]] = []  # row, type, start, end
        self.sig: list[tuple[int, int, int, int, int, int]] = []  # row, alg, r0, r1, s0, s1


def _time_ok(t: bytes) -> bool:
    yy, mo, dd, hh, mi, ss = t
    if not 1 <= mo <= 12 or hh > 23 or mi > 59 or ss > 59 or dd < 1:
        return False
    leap = (2000 + yy) % 4 == 0 and ((2000 + yy) % 100 != 0 or (2000 + yy) % 400 == 0)
    return dd <= (_MDAYS[mo] if mo != 2 or leap else 28)


def walk(data: bytes, a: int, b: int, e: Edition, lay: Layout, frame: int) -> bool:
    """Record the block layout of the real-time frame ``data[a:b]``; ``False`` if unusual."""
    p, end = a + 24, b - 1
    if end - p < 6 or not _time_ok(data[p : p + 6]) or 0 in data[a + 4 : a + 21]:
        return False
    p += 6
    row = len(lay.starts)
    recs: list[tuple[str, int]] = []
    extra: list[tuple[str, int]] = []
    raw: list[tuple[int, int, int, int]] = []
    sig = None
    seen: set[int] = set()
    sz = _SIZES[e]
    is25 = e is Edition.V2025
    opaque = ed.OPAQUE_TYPES[e]
    alarms_id, volts_id, temps_id = ed.ALARMS[e], ed.VOLTAGES[e], ed.TEMPERATURES[e]
    while p < end:
        t = data[p]
        if is25 and t == 0xFF:
            if end - p < 6 or not 1 <= data[p + 1] <= 3:
                return False
            r0 = p + 4
            s_len_at = r0 + int.from_bytes(data[p + 2 : p + 4], "big")
            if s_len_at + 2 > end:
                return False
            s1 = s_len_at + 2 + int.from_bytes(data[s_len_at : s_len_at + 2], "big")
            if s1 != end:
                return False
            sig = (row, data[p + 1], r0, s_len_at, s_len_at + 2, s1)
            p = end
            break
        p += 1
        if 0x80 <= t <= 0xFE:
            if p + 2 > end:
                return False
            stop = p + 2 + int.from_bytes(data[p : p + 2], "big")
            if stop > end:
                return False
            raw.append((row, t, p + 2, stop))
            p = stop
            continue
        if t in opaque:
            stop = _find_signature(data, p, end)
            if stop < 0:
                return False
            raw.append((row, t, p, stop))
            p = stop
            continue
        if t in seen:
            return False
        seen.add(t)
        if t == 0x01 or t == 0x04 or t == 0x05 or (t == 0x06 and not is25):
            kind = {1: "vehicle", 4: "engine", 5: "position", 6: "extremes"}[t]
            if p + sz[kind] > end:
                return False
            recs.append((kind, p))
            p += sz[kind]
        elif t == 0x02:
            if p + 1 > end:
                return False
            n, size = data[p], sz["motor"]
            if p + 1 + n * size > end:
                return False
            recs.append(("motors", p))
            recs.extend(("motor", p + 1 + k * size) for k in range(n))
            p += 1 + n * size
        elif t == alarms_id:
            recs.append(("alarms", p))
            p += 5
            for kind in ("fault0", "fault1", "fault2", "fault3", "levels")[: 5 if is25 else 4]:
                if p + 1 > end:
                    return False
                n = data[p]
                width = 2 if kind == "levels" else 4
                if p + 1 + n * width > end:
                    return False
                recs.extend((kind, p + 1 + k * width) for k in range(n))
                p += 1 + n * width
        elif t == volts_id:
            if p + 1 > end:
                return False
            n = data[p]
            recs.append(("voltages", p))
            p += 1
            head = 10 if not is25 else 7
            for _ in range(n):
                if p + head > end:
                    return False
                count = data[p + 9] if not is25 else int.from_bytes(data[p + 5 : p + 7], "big")
                cells = p + head
                if cells + 2 * count > end:
                    return False
                recs.append(("vsub", p))
                extra.append(("vsub", count))
                extra.append(("vcells", cells))
                p = cells + 2 * count
        elif t == temps_id:
            if p + 1 > end:
                return False
            n = data[p]
            recs.append(("temperatures", p))
            p += 1
            for _ in range(n):
                if p + 3 > end:
                    return False
                count = int.from_bytes(data[p + 1 : p + 3], "big")
                if p + 3 + count > end:
                    return False
                recs.append(("tsub", p))
                extra.append(("tsub", count))
                extra.append(("tprobes", p + 3))
                p += 3 + count
        else:
            return False
    if is25 and sig is None:
        return False
    lay.starts.append(a)
    lay.frame.append(frame)
    for kind, off in recs:
        lay.rows[kind].append(row)
        lay.offs[kind].append(off)
    for kind, value in extra:
        lay.extra[kind].append(value)
    lay.raw.extend(raw)
    if sig is not None:
        lay.sig.append(sig)
    return True
