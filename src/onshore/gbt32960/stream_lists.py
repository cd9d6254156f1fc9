"""Vectorized list columns of :mod:`onshore.gbt32960.stream`: alarms, energy-storage voltages
and temperatures, raw blocks and signatures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from onshore.gbt32960 import arrow as ar
from onshore.gbt32960.blocks import Alarms, ProbeTemperatures, StorageVoltage
from onshore.gbt32960.editions import Edition
from onshore.gbt32960.stream import _column, _Flags, _offsets, _read
from onshore.gbt32960.values import Scalar
from onshore.gbt32960.walk import Layout

P = ar.P
_INT = np.int64
_RAW = Scalar("raw", 4, sentinels=False)


def _ra(lay: Layout, kind: str) -> tuple[np.ndarray, np.ndarray]:
    return np.array(lay.rows[kind], _INT), np.array(lay.offs[kind], _INT)


def _absent(present: np.ndarray, m: int) -> pa.Array:
    mask = np.ones(m, bool)
    mask[present] = False
    return pa.array(mask)


def _index(rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = _offsets(rows, m)
    return offsets, np.arange(len(rows)) - offsets[rows]


def alarms(
    buf: np.ndarray, lay: Layout, e: Edition, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    """Alarm level, flags, the four fault lists and the 2025 (alarm, level) list."""
    rows, at = _ra(lay, "alarms")
    cols[P + "alarm_level"] = _column(
        buf, at, Alarms.LEVEL, pa.uint8(), rows, flags, P + "alarm_level", m
    )
    cols[P + "alarm_flags"] = _column(buf, at + 1, _RAW, pa.uint32(), rows, flags, "", m)
    absent = _absent(rows, m)
    for k, name in enumerate(Alarms.FAULT_LISTS):
        frows, fat = _ra(lay, f"fault{k}")
        codes = pa.array(_read(buf, fat, 4), pa.uint32())
        offsets = _offsets(frows, m)
        cols[P + name] = pa.ListArray.from_arrays(pa.array(offsets), codes, mask=absent)
    if e is Edition.V2025:
        lrows, lat = _ra(lay, "levels")
        items = pa.StructArray.from_arrays(
            [pa.array(buf[lat], pa.uint8()), pa.array(buf[lat + 1], pa.uint8())],
            names=["alarm", "level"],
        )
        offsets = _offsets(lrows, m)
        cols[P + "alarm_levels"] = pa.ListArray.from_arrays(pa.array(offsets), items, mask=absent)


def _nested(
    buf: np.ndarray,
    rows: np.ndarray,
    index: np.ndarray,
    counts: np.ndarray,
    starts: np.ndarray,
    spec: Scalar,
    typ: pa.DataType,
    flags: _Flags,
    label: str,
) -> pa.Array:
    """A list column per item: ``counts[i]`` values of ``spec`` from ``starts[i]``."""
    total = int(counts.sum())
    item_first = np.concatenate(([0], np.cumsum(counts)))
    item_of = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(total) - item_first[:-1][item_of] if total else np.zeros(0, _INT)
    at = starts[item_of] + spec.size * within if total else np.zeros(0, _INT)
    values = _column(
        buf,
        at,
        spec,
        typ,
        rows[item_of] if total else np.zeros(0, _INT),
        flags,
        lambda i: label.format(index[item_of[i]], within[i]),
    )
    return pa.ListArray.from_arrays(pa.array(item_first.astype(np.int32)), values)


def voltages(
    buf: np.ndarray, lay: Layout, e: Edition, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    """Energy-storage voltages: list<struct<…, cell_voltages: list<double>>>."""
    name = P + "storage_voltages"
    present, _ = _ra(lay, "voltages")
    rows, at = _ra(lay, "vsub")
    counts = np.array(lay.extra["vsub"], _INT)
    cells = np.array(lay.extra["vcells"], _INT)
    offsets, index = _index(rows, m)
    head = StorageVoltage.HEAD[e]
    children = []
    k = 0
    for spec in head:
        label = f"{name}[{{}}].{spec.name}"
        typ = ar._VOLTAGES.field(spec.name).type
        children.append(
            _column(buf, at + k, spec, typ, rows, flags, lambda i, lb=label: lb.format(index[i]))
        )
        k += spec.size
    if e is Edition.V2016:
        children.append(pa.array(_read(buf, at + 5, 2), pa.uint16()))
        children.append(pa.array(_read(buf, at + 7, 2), pa.uint16()))
    else:
        children += [pa.nulls(len(rows), pa.uint16()), pa.nulls(len(rows), pa.uint16())]
    label = f"{name}[{{}}].cell_voltages[{{}}]"
    children.append(
        _nested(buf, rows, index, counts, cells, StorageVoltage.CELL, pa.float64(), flags, label)
    )
    items = pa.StructArray.from_arrays(children, fields=list(ar._VOLTAGES))
    cols[name] = pa.ListArray.from_arrays(pa.array(offsets), items, mask=_absent(present, m))


def temperatures(
    buf: np.ndarray, lay: Layout, m: int, flags: _Flags, cols: dict[str, pa.Array]
) -> None:
    """Probe temperatures: list<struct<subsystem, temperatures: list<int16>>>."""
    name = P + "storage_temperatures"
    present, _ = _ra(lay, "temperatures")
    rows, at = _ra(lay, "tsub")
    counts = np.array(lay.extra["tsub"], _INT)
    probes = np.array(lay.extra["tprobes"], _INT)
    offsets, index = _index(rows, m)
    label = f"{name}[{{}}].temperatures[{{}}]"
    children = [
        pa.array(buf[at], pa.uint8()),
        _nested(
            buf, rows, index, counts, probes, ProbeTemperatures.PROBE, pa.int16(), flags, label
        ),
    ]
    items = pa.StructArray.from_arrays(children, fields=list(ar._TEMPS))
    cols[name] = pa.ListArray.from_arrays(pa.array(offsets), items, mask=_absent(present, m))


def raw_and_signature(lay: Layout, m: int, cols: dict[str, Any], data: bytes) -> None:
    """OEM and unimplemented blocks as bytes; the 2025 signature block."""
    raw: list[list[dict[str, Any]]] = [[] for _ in range(m)]
    for row, tid, a, b in lay.raw:
        raw[row].append({"type_id": tid, "data": data[a:b]})
    cols[P + "raw_blocks"] = pa.array(raw, ar.SCHEMA.field(P + "raw_blocks").type)
    sigs: list[dict[str, Any] | None] = [None] * m
    for row, alg, r0, r1, s0, s1 in lay.sig:
        sigs[row] = {"algorithm": alg, "r": data[r0:r1], "s": data[s0:s1]}
    cols[P + "signature"] = pa.array(sigs, ar.SCHEMA.field(P + "signature").type)
