"""Bulk decoding of a concatenated stream straight into canonical Arrow, vectorized.

The frames are cut with one pass over their length fields; the header checks and the BCC of
every frame run as NumPy operations over all frames at once. Each real-time frame is then
walked once in Python only to find where its blocks start; every field of every block kind
is gathered for all frames in one NumPy operation. Frames the fast path does not cover
(other commands, bad headers or check codes, 2016 fuel cell, repeated blocks, anything the
walk finds odd) go through :func:`~onshore.gbt32960.iter_frames`, so the result always equals
``frames_to_arrow`` over ``iter_frames`` (a property test checks this).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from onshore.gbt32960 import arrow as ar
from onshore.gbt32960.blocks import DriveMotor, Engine, Extremes, Position, VehicleData
from onshore.gbt32960.editions import Edition
from onshore.gbt32960.errors import FrameError
from onshore.gbt32960.frame import HEADER, OVERHEAD, Frame, _Markers, decode_frame
from onshore.gbt32960.values import Scalar
from onshore.gbt32960.walk import Layout, walk

P, TB = ar.P, ar.TB
_INT = np.int64


def _cut(data: bytes, lenient: bool) -> tuple[list[tuple[int, int, int]], list[Any]]:
    """Fast candidates ``(start, end, record)`` and slow results ``(offset, record, item)``."""
    n = len(data)
    fast: list[tuple[int, int, int]] = []
    slow: list[Any] = []
    markers = _Markers(data)
    pos = record = 0
    while pos < n:
        at = markers.next(pos)
        if at > pos:
            err = FrameError(f"{at - pos} bytes outside any frame", offset=pos, field="start")
            slow.append((pos, record, err))
            record += 1
            pos = at
            continue
        end = pos + OVERHEAD + int.from_bytes(data[pos + 22 : pos + 24], "big")
        if n - pos < HEADER:
            end = n + 1
        if end <= n and (end == n or data[end : end + 2] in (b"##", b"$$")):
            fast.append((pos, end, record))
            pos = end
        else:
            try:
                if end > n:
                    decode_frame(data[pos:n])
                slow.append((pos, record, decode_frame(data[pos:end], lenient_bcc=lenient)))
                pos = end
            except FrameError as exc:
                slow.append((pos, record, exc.shifted(pos, record=record)))
                pos = markers.next(pos + 1)
        record += 1
    return fast, slow


def _read(buf: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    out: np.ndarray = buf[at].astype(_INT)
    for k in range(1, size):
        out = (out << 8) | buf[at + k]
    return out


class _Flags:
    """Sentinel hits as (row, name) pairs, gathered only where they occur."""

    def __init__(self) -> None:
        self.abnormal: list[tuple[int, str]] = []
        self.invalid: list[tuple[int, str]] = []

    def note(self, raw: np.ndarray, spec: Scalar, rows: np.ndarray, names: Any) -> np.ndarray:
        """Record sentinels of ``raw`` (names: a str, or a callable of the item index)."""
        if not spec.sentinels:
            return np.zeros(len(raw), bool)
        top = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}[spec.size]
        bad = raw >= top - 1
        for i in np.flatnonzero(bad).tolist():
            name = names if isinstance(names, str) else names(i)
            (self.invalid if raw[i] == top else self.abnormal).append((int(rows[i]), name))
        return bad


def _values(raw: np.ndarray, spec: Scalar) -> np.ndarray:
    if spec.divisor == 1:
        return raw + spec.offset
    return (raw + spec.offset) / spec.divisor


def _column(
    buf: np.ndarray, at: np.ndarray, spec: Scalar, typ: pa.DataType, rows: np.ndarray,
    flags: _Flags, names: Any, length: int | None = None,
) -> pa.Array:  # fmt: skip
    """One field for the items at ``at``; scattered to ``length`` rows when given."""
    raw = _read(buf, at, spec.size)
    bad = flags.note(raw, spec, rows, names)
    vals = _values(raw, spec)
    if length is None:
        return pa.array(vals, type=typ, mask=bad)
    full = np.zeros(length, vals.dtype)
    mask = np.ones(length, bool)
    full[rows] = vals
    mask[rows] = bad
    return pa.array(full, type=typ, mask=mask)


def _offsets(rows: np.ndarray, length: int) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=length)))).astype(np.int32)


def _fixed_offsets(specs: tuple[Scalar, ...]) -> dict[str, tuple[int, Scalar]]:
    out, at = {}, 0
    for s in specs:
        out[s.name] = (at, s)
        at += s.size
    return out


_VEHICLE_COLUMNS = {
    "speed": "Vehicle.Speed",
    "odometer": "Vehicle.TraveledDistance",
    "total_voltage": TB + "CurrentVoltage",
    "total_current": TB + "CurrentCurrent",
    "soc": TB + "StateOfCharge.Current",
    "accelerator_pedal": "Vehicle.Chassis.Accelerator.PedalPosition",
    "brake_pedal": "Vehicle.Chassis.Brake.PedalPosition",
    "insulation_resistance": P + "insulation_resistance",
    **{n: P + n for n in ("vehicle_state", "charging_state", "operating_mode", "dcdc_state")},
    "gear": P + "gear",
}
_ENGINE_COLUMNS = {
    "crankshaft_speed": "Vehicle.Powertrain.CombustionEngine.Speed",
    "state": P + "engine_state",
    "fuel_consumption": P + "fuel_consumption",
}
_EXTREME_COLUMNS = {
    "max_cell_voltage": TB + "CellVoltage.Max",
    "min_cell_voltage": TB + "CellVoltage.Min",
    "max_temperature": TB + "Temperature.Max",
    "min_temperature": TB + "Temperature.Min",
}


def _table(data: bytes, buf: np.ndarray, lay: Layout, e: Edition, base: dict[str, Any]) -> pa.Table:
    """Canonical columns for the frames of one edition that the walk accepted."""
    m = len(lay.starts)
    flags = _Flags()
    cols: dict[str, pa.Array] = {}
    schema = ar.SCHEMA

    def fixed(cls: type, kind: str, mapping: dict[str, str]) -> None:
        rows, at = np.array(lay.rows[kind], _INT), np.array(lay.offs[kind], _INT)
        for name, (k, spec) in _fixed_offsets(cls.FIELDS[e]).items():  # type: ignore[attr-defined]
            col = mapping.get(name)
            if col is not None:
                typ = schema.field(col).type
                cols[col] = _column(buf, at + k, spec, typ, rows, flags, col, m)

    fixed(VehicleData, "vehicle", _VEHICLE_COLUMNS)
    fixed(Engine, "engine", _ENGINE_COLUMNS)
    gear_col = "Vehicle.Powertrain.Transmission.SelectedGear"
    rows, at = np.array(lay.rows["vehicle"], _INT), np.array(lay.offs["vehicle"], _INT)
    if len(rows):
        g = buf[at + _fixed_offsets(VehicleData.FIELDS[e])["gear"][0]].astype(_INT)
        nib = g & 0x0F
        vss = np.where(nib == 13, -1, np.where(nib == 14, 127, np.where(nib == 15, 126, nib)))
        full, mask = np.zeros(m, np.int8), np.ones(m, bool)
        full[rows], mask[rows] = vss, (g & 0x80) != 0
        cols[gear_col] = pa.array(full, pa.int8(), mask=mask)
    _position(buf, lay, e, m, flags, cols)
    if e is Edition.V2016:
        fixed(Extremes, "extremes", _EXTREME_COLUMNS)
        _extreme_ids(buf, lay, m, flags, cols)
    _motors(buf, lay, e, m, flags, cols)
    from onshore.gbt32960.stream_lists import alarms, raw_and_signature, temperatures, voltages

    alarms(buf, lay, e, m, flags, cols)
    voltages(buf, lay, e, m, flags, cols)
    temperatures(buf, lay, m, flags, cols)
    raw_and_signature(lay, m, cols, data)
    cols |= base
    for key, pairs in ((P + "abnormal", flags.abnormal), (P + "invalid", flags.invalid)):
        pairs.sort()
        names = pa.array([name for _, name in pairs], pa.string())
        counts = np.bincount(np.array([r for r, _ in pairs], _INT), minlength=m)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
        cols[key] = pa.ListArray.from_arrays(pa.array(offsets), names)
    return pa.table([cols.get(f.name, pa.nulls(m, f.type)) for f in schema], schema=schema)


_CRS_BY_CODE = np.array([ar.crs_name(None if c < 0 else c) for c in range(-1, 256)], object)
"""``crs`` by the position block's system byte plus one (index 0: 2016, no byte)."""


def _position(
    buf: np.ndarray, lay: Layout, e: Edition, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    rows, at = np.array(lay.rows["position"], _INT), np.array(lay.offs["position"], _INT)
    offs = _fixed_offsets(Position.FIELDS[e])
    status = buf[at].astype(_INT)
    for col, name, bit in (("lat", "latitude", 0x02), ("lon", "longitude", 0x04)):
        k, spec = offs[name]
        raw = _read(buf, at + k, spec.size)
        bad = flags.note(raw, spec, rows, col)
        vals = np.where(status & bit, -1.0, 1.0) * _values(raw, spec)
        full, mask = np.zeros(m), np.ones(m, bool)
        full[rows], mask[rows] = vals, bad
        cols[col] = pa.array(full, pa.float64(), mask=mask)
    valid, mask = np.zeros(m, bool), np.ones(m, bool)
    valid[rows], mask[rows] = (status & 1) == 0, False
    cols[P + "position_valid"] = pa.array(valid, pa.bool_(), mask=mask)
    # 2016 positions are WGS-84 by the standard; 2025 ones say which in their second byte
    codes = buf[at + 1].astype(_INT) if e is Edition.V2025 else np.full(len(rows), -1, _INT)
    names = np.full(m, None, dtype=object)
    names[rows] = _CRS_BY_CODE[codes + 1]
    cols["crs"] = pa.array(names, pa.string())


def _extreme_ids(
    buf: np.ndarray, lay: Layout, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    rows, at = np.array(lay.rows["extremes"], _INT), np.array(lay.offs["extremes"], _INT)
    offs = _fixed_offsets(Extremes.FIELDS[Edition.V2016])
    name = P + "extremes"
    children = [
        _column(buf, at + offs[n][0], offs[n][1], pa.uint8(), rows, flags, f"{name}.{n}", m)
        for n in ar._EXTREMES.names
    ]
    mask = np.ones(m, bool)
    mask[rows] = False
    cols[name] = pa.StructArray.from_arrays(
        children, fields=list(ar._EXTREMES), mask=pa.array(mask)
    )


def _motors(
    buf: np.ndarray, lay: Layout, e: Edition, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    rows, at = np.array(lay.rows["motor"], _INT), np.array(lay.offs["motor"], _INT)
    present = np.array(lay.rows["motors"], _INT)
    offsets = _offsets(rows, m)
    index = np.arange(len(rows)) - offsets[rows]
    name = P + "drive_motors"
    offs = _fixed_offsets(DriveMotor.FIELDS[e])
    children = []
    for f in ar._MOTOR:
        if f.name not in offs:
            children.append(pa.nulls(len(rows), f.type))
            continue
        k, spec = offs[f.name]
        label = f"{name}[{{}}].{f.name}"
        children.append(
            _column(buf, at + k, spec, f.type, rows, flags, lambda i, lb=label: lb.format(index[i]))
        )
    mask = np.ones(m, bool)
    mask[present] = False
    items = pa.StructArray.from_arrays(children, fields=list(ar._MOTOR))
    cols[name] = pa.ListArray.from_arrays(pa.array(offsets), items, mask=pa.array(mask))


def decode_stream(data: bytes, *, lenient_bcc: bool = False) -> tuple[pa.Table, list[FrameError]]:
    """Decode a concatenated stream into canonical rows and the typed errors, in stream order.

    Equivalent to ``frames_to_arrow`` over :func:`~onshore.gbt32960.iter_frames` (real-time
    frames become rows; other frames are checked but carry no telemetry), only faster.
    Error offsets are stream offsets.
    """
    data = bytes(data)
    buf = np.frombuffer(data, np.uint8)
    fast, slow = _cut(data, lenient_bcc)
    tables: list[pa.Table] = []
    order: list[np.ndarray] = []
    errors: list[tuple[int, FrameError]] = []
    slow_frames: list[tuple[int, Frame]] = []
    for _off, rec, item in slow:
        (errors if isinstance(item, FrameError) else slow_frames).append((rec, item))
    if fast:
        spans = np.array(fast, _INT)
        s, en = spans[:, 0], spans[:, 1]
        cmd, resp, enc = buf[s + 2], buf[s + 3], buf[s + 21]
        idx = np.empty(2 * len(s), _INT)
        idx[0::2], idx[1::2] = s + 2, en - 1
        check = np.bitwise_xor.reduceat(buf, idx)[0::2]
        vin = buf[s[:, None] + np.arange(4, 21)]
        is25 = buf[s] == 0x24
        ok = (vin < 0x80).all(axis=1) & (lenient_bcc | (check == buf[en - 1]))
        ok &= ((cmd == 2) | (cmd == 3)) & (resp == 0xFE) & (enc == 1)
        bcc_ok = check == buf[en - 1]
        lays = {e: Layout() for e in Edition}
        for i in np.flatnonzero(~ok).tolist():
            a, b, rec = fast[i]
            try:
                slow_frames.append((rec, decode_frame(data[a:b], lenient_bcc=lenient_bcc)))
            except FrameError as exc:
                errors.append((rec, exc.shifted(a, record=rec)))
        for i in np.flatnonzero(ok).tolist():
            a, b, rec = fast[i]
            e = Edition.V2025 if is25[i] else Edition.V2016
            if not walk(data, a, b, e, lays[e], i):
                try:
                    slow_frames.append((rec, decode_frame(data[a:b], lenient_bcc=lenient_bcc)))
                except FrameError as exc:
                    errors.append((rec, exc.shifted(a, record=rec)))
        for e, lay in lays.items():
            if not lay.starts:
                continue
            which = np.array(lay.frame, _INT)
            st = s[which]
            base = _base(buf, st, vin[which], e, cmd[which], bcc_ok[which])
            tables.append(_table(data, buf, lay, e, base))
            order.append(spans[which, 2])
    rows = [(rec, f) for rec, f in slow_frames if f.is_realtime]
    if rows:
        tables.append(ar.frames_to_arrow([f for _, f in rows]))
        order.append(np.array([rec for rec, _ in rows], _INT))
    if not tables:
        table = ar.SCHEMA.empty_table()
    else:
        table = pa.concat_tables(tables)
        table = table.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))
    errors.sort(key=lambda x: x[0])
    return table, [err for _, err in errors]


def _base(
    buf: np.ndarray, s: np.ndarray, vin: np.ndarray, e: Edition, cmd: np.ndarray, bcc: np.ndarray
) -> dict[str, pa.Array]:
    t = buf[s[:, None] + np.arange(HEADER, HEADER + 6)].astype(_INT)
    months = (t[:, 0] + 30) * 12 + t[:, 1] - 1
    day0 = months.astype("datetime64[M]").astype("datetime64[D]")
    local = (
        day0
        + (t[:, 2] - 1).astype("timedelta64[D]")
        + (t[:, 3] * 3600 + t[:, 4] * 60 + t[:, 5]).astype("timedelta64[s]")
    ).astype("datetime64[s]")
    m = len(s)
    return {
        "vin": pa.array(vin.copy().view("S17").ravel().astype("U17"), pa.string()),
        "ts": pa.array(
            (local - np.timedelta64(8, "h")).astype("datetime64[ms]"), ar.SCHEMA.field("ts").type
        ),
        P + "time_local": pa.array(local, pa.timestamp("s")),
        P + "edition": pa.array(np.full(m, int(e), np.int16)),
        P + "command": pa.array(cmd, pa.uint8()),
        P + "bcc_ok": pa.array(bcc, pa.bool_()),
    }
