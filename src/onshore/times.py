"""The range of times Onshore accepts: years 0001 to 9999, as Python's ``datetime`` holds.

Arrow holds times far outside it (``timestamp[ms]`` of 2**62, ``date32`` of 2**31 days), and such
a value fails wherever it meets Python (``OverflowError``). Every place that turns input into
times checks against this one range, so an out-of-range time is a bad value of its field (a
quarantined row, or a 422 naming the record and the field), never a failure further on.

A day is kept free at either end, so a time in range stays in range in any time zone.

>>> in_range_ms(0), in_range_ms(2**62), in_range_ms(-62135596800001)
(True, False, False)
>>> out_of_range(pa.array([0, 2**62, None], pa.timestamp("ms"))).tolist()
[False, True, False]
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_TIME = datetime(1, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, 23, 59, 59, 999000, tzinfo=UTC)
MIN_MS = (MIN_TIME - _EPOCH) // _EPOCH.resolution // 1000  # -62135510400000
MAX_MS = (MAX_TIME - _EPOCH) // _EPOCH.resolution // 1000  # 253402214399999
_DAY_MS = 86_400_000
_INT64 = (-(2**63), 2**63 - 1)
_PER_MS = {"s": (1, 1000), "ms": (1, 1), "us": (1000, 1), "ns": (1_000_000, 1)}
# timedelta holds at most 999,999,999 days either way
_MAX_DAYS = 999_999_999
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def in_range_ms(ms: int) -> bool:
    """Whether epoch milliseconds ``ms`` name a time Onshore accepts."""
    return MIN_MS <= ms <= MAX_MS


def range_text() -> str:
    """The accepted range, for messages."""
    return f"{MIN_TIME.date().isoformat()} to {MAX_TIME.date().isoformat()} UTC"


def _clamp(value: int) -> int:
    return max(_INT64[0], min(_INT64[1], value))


def bounds(t: pa.DataType) -> tuple[int, int] | None:
    """The accepted range of a temporal type's integer values, or ``None`` if it has none."""
    if pa.types.is_timestamp(t):
        mul, div = _PER_MS[t.unit]
        return _clamp(-((-MIN_MS * mul) // div)), _clamp(MAX_MS * mul // div)
    if pa.types.is_date64(t):
        return MIN_MS, MAX_MS
    if pa.types.is_date32(t):
        return MIN_MS // _DAY_MS, MAX_MS // _DAY_MS
    if pa.types.is_duration(t):
        limit = _clamp(_MAX_DAYS * _PER_DAY[t.unit])
        return -limit, limit
    return None


def out_of_range(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per element: holds a time (at any depth of nesting) outside the accepted range."""
    if isinstance(arr, pa.ChunkedArray):
        parts = [out_of_range(c) for c in arr.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    n = len(arr)
    t = arr.type
    limits = bounds(t)
    if limits is not None:
        ints = arr.view(pa.int64() if t.bit_width == 64 else pa.int32())
        outside = pc.or_(pc.less(ints, limits[0]), pc.greater(ints, limits[1]))
        return np.asarray(pc.fill_null(outside, False).to_numpy(zero_copy_only=False), dtype=bool)
    if not _holds_time(t):
        return np.zeros(n, dtype=bool)
    if pa.types.is_dictionary(t):
        inner = out_of_range(arr.dictionary)
        idx = arr.indices.to_numpy(zero_copy_only=False)
        valid = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)
        picked = np.zeros(n, dtype=bool)
        picked[valid] = inner[idx[valid].astype(np.int64)]
        return picked
    if pa.types.is_struct(t):
        out = np.zeros(n, dtype=bool)
        for child in arr.flatten():
            out |= out_of_range(child)
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        out = np.zeros(n, dtype=bool)
        values = pc.list_flatten(arr)
        bad = out_of_range(values)
        if bad.any():
            parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
            out[parents[bad]] = True
        return out
    # Other nestings that hold times (maps, list views, unions, run-end encoding): element-wise.
    return np.asarray([_python_fails(arr, i) for i in range(n)], dtype=bool)


def _python_fails(arr: pa.Array, i: int) -> bool:
    try:
        arr[i].as_py()
    except (OverflowError, ValueError):
        return True
    return False


def _holds_time(t: pa.DataType) -> bool:
    if bounds(t) is not None:
        return True
    if pa.types.is_dictionary(t):
        return _holds_time(t.value_type)
    if pa.types.is_run_end_encoded(t):
        return _holds_time(t.value_type)
    if pa.types.is_map(t):
        return _holds_time(t.key_type) or _holds_time(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _holds_time(t.value_type)
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return _holds_time(t.value_type)
    try:
        return any(_holds_time(t.field(i).type) for i in range(t.num_fields))
    except (AttributeError, IndexError, KeyError):
        return False


def holds_time(t: pa.DataType) -> bool:
    """Whether values of ``t`` are or contain times (and may be out of range)."""
    return _holds_time(t)
