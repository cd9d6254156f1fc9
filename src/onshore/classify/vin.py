"""VIN checks (ISO 3779, GB 16735), vectorized over Arrow string arrays.

>>> import pyarrow as pa
>>> check_vins(pa.array(["1M8GDM9AXKP042788", "1M8GDM9A1KP042788", "TOO-SHORT"])).tolist()
['ok', 'check_digit', 'format']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

VIN_RE = r"^[A-HJ-NPR-Z0-9]{17}$"
WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_VALUE = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate("0123456789"):
    _VALUE[ord(_c)] = _i
for _letters, _start in (("ABCDEFGH", 1), ("JKLMN", 1), ("P", 7), ("R", 9), ("STUVWXYZ", 2)):
    for _j, _c in enumerate(_letters):
        _VALUE[ord(_c)] = _start + _j
_CHECK_CHAR = np.frombuffer(b"0123456789X", dtype=np.uint8)


def fixed_width_bytes(arr: pa.Array, width: int) -> np.ndarray:
    """A string array whose every value has ``width`` bytes, as an ``(n, width)`` uint8 matrix."""
    arr = pc.cast(arr, pa.binary())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(len(arr), width)


OK, FORMAT, CHECK_DIGIT, NULL = 0, 1, 2, 3
STATUS = ("ok", "format", "check_digit", "null")


def _check_distinct(vins: pa.Array) -> np.ndarray:
    """Status codes for an array of (typically distinct) VIN strings."""
    n = len(vins)
    out = np.full(n, FORMAT, dtype=np.int8)
    present = np.asarray(pc.is_valid(vins).to_numpy(zero_copy_only=False), dtype=bool)
    out[~present] = NULL
    well_formed = np.asarray(
        pc.fill_null(pc.match_substring_regex(vins, VIN_RE), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    idx = np.flatnonzero(well_formed)
    if idx.size:
        chars = fixed_width_bytes(vins.take(pa.array(idx)), 17)
        total = (_VALUE[chars] * WEIGHTS).sum(axis=1) % 11
        good = chars[:, 8] == _CHECK_CHAR[total]
        out[idx] = np.where(good, OK, CHECK_DIGIT)
    return out


def check_vin_codes(vins: pa.Array) -> np.ndarray:
    """Per element a status code: ``OK``, ``FORMAT`` (not 17 of the allowed characters),
    ``CHECK_DIGIT`` (position 9 does not match) or ``NULL``.

    Telemetry repeats each VIN thousands of times, so only the distinct values are checked.
    """
    if isinstance(vins, pa.ChunkedArray):
        vins = vins.combine_chunks()
    if not pa.types.is_dictionary(vins.type):
        vins = pc.dictionary_encode(vins)
    codes = _check_distinct(vins.dictionary)
    indices = vins.indices.to_numpy(zero_copy_only=False)
    present = np.asarray(pc.is_valid(vins.indices).to_numpy(zero_copy_only=False), dtype=bool)
    out = np.full(len(vins), NULL, dtype=np.int8)
    if codes.size:
        out[present] = codes[indices[present].astype(np.int64)]
    return out


def check_vins(vins: pa.Array) -> np.ndarray:
    """Per element: ``'ok'``, ``'format'``, ``'check_digit'`` or ``'null'`` (see
    :func:`check_vin_codes`, which the hot path uses)."""
    names: np.ndarray = np.asarray(STATUS, dtype=object)[check_vin_codes(vins)]
    return names


def vin_check_char(first17: str) -> str:
    """The check digit a VIN should carry at position 9 (used to generate valid demo VINs)."""
    chars = np.frombuffer(first17.encode("ascii"), dtype=np.uint8)
    return chr(_CHECK_CHAR[(_VALUE[chars] * WEIGHTS).sum() % 11])
