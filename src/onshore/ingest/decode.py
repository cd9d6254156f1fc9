"""Messages to canonical Arrow rows, with the key that makes a redelivery idempotent.

Pure: bytes in, an Arrow table, the rows' keys and the rejected messages out. A message is a
JSON object (or an array of objects; nested objects flatten to dotted names, so
``{"Vehicle": {"Speed": 50}}`` becomes ``Vehicle.Speed``) with ``vin`` and ``ts`` (ISO 8601 or
epoch milliseconds), or one or more GB/T 32960.3 frames. A row's key is
``(vin, ts in epoch ms, kind)`` where ``kind`` is ``json`` or ``gbt32960:N`` (N the command: 2
real-time, 3 re-send), the VIN + timestamp + frame type of issue 8. A ``ts`` outside years
0001-9999 (:mod:`onshore.times`) rejects its message with field ``ts``, as a malformed one does.

>>> d = decode_json([b'{"vin": "LSVAU2180N2183294", "ts": 1767225600000, "speed": 50}', b"{"])
>>> d.table.num_rows, d.keys[0], d.rejected[0].reason[:8]
(1, ('LSVAU2180N2183294', 1767225600000, 'json'), 'not JSON')
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from onshore.gbt32960 import decode_stream
from onshore.times import MAX_MS, MIN_MS, in_range_ms, range_text

Key = tuple[str, int, str]
TS_TYPE = pa.timestamp("ms", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Rejected:
    """A message (or one GB/T 32960 frame of it) that could not be decoded: its position in the
    batch, the frame's position in the message (0-based, frames only) and why."""

    index: int
    reason: str
    field: str | None = None
    offset: int | None = None
    frame: int | None = None


@dataclass(frozen=True)
class Decoded:
    """Rows decoded from a batch of messages, one key per row, and the rejected messages.

    ``rejected`` has one entry per rejected message (the first error: what the quarantine
    keeps); ``errors`` has every rejected record, each frame of a message of many frames."""

    table: pa.Table
    keys: list[Key]
    rejected: list[Rejected]
    errors: list[Rejected] = field(default_factory=list)


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for name, value in obj.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            _flatten(value, key + ".", out)
        else:
            out[key] = value


def _ts_ms(value: Any) -> int:
    ms = _any_ms(value)
    if not in_range_ms(ms):
        raise ValueError(f"out of range ({range_text()})")
    return ms


def _any_ms(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            raise ValueError("a time without a zone")
        return (moment - _EPOCH) // _MS
    raise ValueError(f"expected ISO 8601 text or epoch milliseconds, got {type(value).__name__}")


def _records(payload: bytes) -> list[dict[str, Any]]:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Bad(f"not JSON: {exc}") from None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise _Bad("not a JSON object (or an array of objects)")
    rows = []
    for item in items:
        flat: dict[str, Any] = {}
        _flatten(item, "", flat)
        vin = flat.get("vin")
        if not isinstance(vin, str) or not vin:
            raise _Bad("no vin (a non-empty string)", field="vin")
        try:
            flat["ts"] = _ts_ms(flat.get("ts"))
        except (ValueError, TypeError, OverflowError) as exc:
            raise _Bad(f"bad ts: {exc}", field="ts") from None
        rows.append(flat)
    return rows


class _Bad(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


def _column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array(
            [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], pa.string()
        )


# The C scanner behind ``json.loads``, called without the per-call layers around it.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SKIP = (UnicodeDecodeError, ValueError, StopIteration, RecursionError)


def decode_json(payloads: Sequence[bytes]) -> Decoded:
    """JSON messages to one table (columns: the union of the fields, in order of appearance).

    The common message (a flat UTF-8 object, ``vin`` a string, ``ts`` epoch milliseconds, and
    nothing after it) takes a short path: one call of the C scanner. Any other message takes
    the general one, which gives the same rows, or the reason it is rejected.
    """
    rows: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    scan, skip, append = _scan, _SKIP, rows.append
    for index, payload in enumerate(payloads):
        try:
            text = payload.decode()
            value, end = scan(text, 0)
        except skip:
            text, value, end = "", None, -1
        if (
            end == len(text)
            and type(value) is dict
            and type(value.get("ts")) is int
            and MIN_MS <= value["ts"] <= MAX_MS
            and type(value.get("vin")) is str
            and value["vin"]
            and dict not in map(type, value.values())
        ):
            append(value)
            continue
        try:
            rows.extend(_records(payload))
        except _Bad as exc:
            rejected.append(Rejected(index, exc.reason, exc.field))
    names: dict[str, None] = {}
    last: Any = None
    for row in rows:
        if row.keys() != last:  # most rows have the fields of the row before
            names.update(dict.fromkeys(row))
            last = row.keys()
    columns = {}
    for name in names:
        values = list(map(dict.get, rows, repeat(name)))
        columns[name] = pa.array(values, TS_TYPE) if name == "ts" else _column(values)
    table = pa.table(columns) if rows else pa.table({"vin": pa.array([], pa.string())})
    keys = [(row["vin"], row["ts"], "json") for row in rows]
    return Decoded(table, keys, rejected, rejected)


def _whole_frame(payload: bytes) -> bool:
    """One frame exactly: start bytes and a length field that spans the message."""
    return (
        len(payload) >= 25
        and payload[:2] in (b"##", b"$$")
        and len(payload) == 25 + int.from_bytes(payload[22:24], "big")
    )


def decode_gbt32960(payloads: Sequence[bytes]) -> Decoded:
    """GB/T 32960.3 messages to canonical rows (real-time and re-send frames carry rows).

    Messages that hold exactly one frame are decoded together in one vectorized pass; any other
    message is decoded on its own, so a damaged message never shifts the frames of the next.
    """
    whole: list[int] = []
    other: list[int] = []
    for i, p in enumerate(payloads):
        (whole if _whole_frame(p) else other).append(i)
    tables: list[pa.Table] = []
    rejected: list[Rejected] = []
    if whole:
        starts, pos = [], 0
        for i in whole:
            starts.append(pos)
            pos += len(payloads[i])
        table, errors = decode_stream(b"".join(payloads[i] for i in whole))
        tables.append(table)
        for err in errors:
            k = bisect.bisect_right(starts, err.offset) - 1
            rejected.append(
                Rejected(whole[k], err.reason, err.field, err.offset - starts[k], frame=0)
            )
    for i in other:
        table, errors = decode_stream(payloads[i])
        tables.append(table)
        rejected.extend(Rejected(i, e.reason, e.field, e.offset, frame=e.record) for e in errors)
        if not errors and table.num_rows == 0 and not payloads[i]:
            rejected.append(Rejected(i, "empty message"))
    table = pa.concat_tables(tables) if tables else decode_stream(b"")[0]
    # The codec names the system of every position (2016: WGS-84 by the standard); rows
    # without one get the same name, as the classifier reads nulls as its declared default.
    crs = table.schema.get_field_index("crs")
    table = table.set_column(crs, "crs", pc.fill_null(table.column(crs), "wgs84"))
    vins = table.column("vin").to_pylist()
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    commands = table.column("gbt32960.command").to_pylist()
    keys = [
        (v or "", -1 if t is None else t, f"gbt32960:{c}")
        for v, t, c in zip(vins, ts, commands, strict=True)
    ]
    every = sorted(rejected, key=lambda r: (r.index, r.offset or 0))
    return Decoded(table, keys, _first_per_message(every), every)


def _first_per_message(rejected: list[Rejected]) -> list[Rejected]:
    """One rejection per message (the first error names where it went wrong)."""
    out: dict[int, Rejected] = {}
    for r in rejected:
        out.setdefault(r.index, r)
    return [out[i] for i in sorted(out)]


DECODERS = {"json": decode_json, "gbt32960": decode_gbt32960}
