"""Vectorized coercion of canonical columns, finding the bad values instead of failing the batch.

Each function returns the converted array and a boolean mask of the elements that were present
but could not be converted. Nulls (and empty strings) stay null and are never bad: an unknown
position is not an error, a position of ``"abc"`` or ``NaN`` or ``95.0`` degrees is.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.times import MAX_MS, MIN_MS, out_of_range

TS_TYPE = pa.timestamp("ms", tz="UTC")
_NUMBER_RE = r"^[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|(?i:nan|inf|infinity))$"
_ZONE_RE = r"(Z|z|[+-]\d{2}:?\d{2})$"


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array (nulls as False) as a NumPy bool array."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def valid_mask(arr: pa.Array) -> np.ndarray:
    """True where the element is not null."""
    return _mask(pc.is_valid(arr))


def _clean_strings(arr: pa.Array) -> pa.Array:
    """Trim whitespace; empty strings become null."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)


def cast_isolating(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast ``arr``; where some elements do not convert, null them and flag them.

    The whole array is cast at once; only when that fails is it bisected, so the cost is
    one cast plus O(bad · log n) small casts.
    """
    try:
        return pc.cast(arr, target), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        if len(arr) == 1:
            return pa.nulls(1, target), np.asarray([arr[0].is_valid], dtype=bool)
    mid = len(arr) // 2
    left, bad_left = cast_isolating(arr.slice(0, mid), target)
    right, bad_right = cast_isolating(arr.slice(mid), target)
    return pa.concat_arrays([left, right]), np.concatenate([bad_left, bad_right])


def to_float64(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Any column to float64; strings are parsed, other non-numeric types are bad."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        # unsafe: an integer past 2**53 rounds, rather than failing the batch
        return pc.cast(arr, pa.float64(), safe=False), np.zeros(len(arr), dtype=bool)
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.float64()), np.zeros(len(arr), dtype=bool)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        cleaned = _clean_strings(arr)
        looks = _mask(pc.match_substring_regex(cleaned, _NUMBER_RE))
        present = valid_mask(cleaned)
        candidates = pc.if_else(pa.array(looks), cleaned, pa.scalar(None, cleaned.type))
        out, bad = cast_isolating(candidates, pa.float64())
        return out, bad | (present & ~looks)
    present = valid_mask(arr)
    return pa.nulls(len(arr), pa.float64()), present


def to_timestamp(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Any column to ``timestamp[ms, UTC]``.

    Strings are ISO 8601; without a zone they are taken as UTC. Integers are epoch seconds when
    every value is below 10^11 (before year 5138), else epoch milliseconds. Naive timestamps are
    taken as UTC; zoned ones are converted. A time outside years 0001-9999
    (:mod:`onshore.times`) is bad, whatever it came from.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    early = out_of_range(arr)
    if early.any():  # out of range before any cast (a cast to ms could overflow)
        arr = pc.if_else(pa.array(~early), arr, pa.scalar(None, arr.type))
    out, bad = _to_timestamp(arr)
    late = out_of_range(out)
    if late.any():
        out = pc.if_else(pa.array(~late), out, pa.scalar(None, TS_TYPE))
    return out, bad | early | late


def _to_timestamp(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    n = len(arr)
    no_bad = np.zeros(n, dtype=bool)
    if pa.types.is_timestamp(t):  # in range (see to_timestamp); sub-millisecond truncated
        if t.tz is None:
            return pc.cast(pc.cast(arr, pa.timestamp("ms"), safe=False), TS_TYPE), no_bad
        return pc.cast(arr, TS_TYPE, safe=False), no_bad
    if pa.types.is_date(t):
        return pc.cast(pc.cast(arr, pa.timestamp("ms")), TS_TYPE), no_bad
    if pa.types.is_null(t):
        return pa.nulls(n, TS_TYPE), no_bad
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        values = pc.cast(arr, pa.float64(), safe=False)  # past 2**53 is out of range anyway
        finite = _mask(pc.is_finite(values))
        present = valid_mask(values)
        biggest = pc.max(pc.abs(pc.if_else(pa.array(finite), values, 0.0))).as_py() or 0.0
        factor = 1000.0 if biggest < 1e11 else 1.0
        ms = pc.multiply(values, factor)
        within = pc.and_(pc.greater_equal(ms, float(MIN_MS)), pc.less_equal(ms, float(MAX_MS)))
        in_range = finite & _mask(within)
        ok = pa.array(in_range)
        ints = pc.cast(pc.round(pc.if_else(ok, ms, pa.scalar(None, pa.float64()))), pa.int64())
        return pc.cast(pc.cast(ints, pa.timestamp("ms")), TS_TYPE), present & ~in_range
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        cleaned = _clean_strings(arr)
        present = valid_mask(cleaned)
        zoned = pa.array(_mask(pc.match_substring_regex(cleaned, _ZONE_RE)))
        null_str = pa.scalar(None, cleaned.type)
        with_zone, bad_zone = cast_isolating(pc.if_else(zoned, cleaned, null_str), TS_TYPE)
        naive, bad_naive = cast_isolating(pc.if_else(zoned, null_str, cleaned), pa.timestamp("ms"))
        out = pc.if_else(zoned, with_zone, pc.cast(naive, TS_TYPE))
        return out, (bad_zone | bad_naive) & present
    return pa.nulls(n, TS_TYPE), valid_mask(arr)


def to_string(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Any scalar column to string; nested types are bad."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_string(t):
        return arr, np.zeros(len(arr), dtype=bool)
    if pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return pc.cast(arr, pa.string()), np.zeros(len(arr), dtype=bool)
    if pa.types.is_nested(t) or pa.types.is_binary(t):
        return pa.nulls(len(arr), pa.string()), valid_mask(arr)
    return cast_isolating(arr, pa.string())
