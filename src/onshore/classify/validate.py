"""Check and normalize one batch: canonical columns get their canonical types; bad rows leave.

A row is bad when a value is present but unusable: a coordinate that is not a number, NaN or out
of range; half a position; a timestamp that does not parse or is missing; a malformed VIN (and,
when the pack says ``vin_check_digit: reject``, a wrong check digit); an unknown ``crs`` (a null
``crs`` is not unknown: it means the input's declared system, WGS-84 unless told otherwise).
Bad rows are returned as :class:`~onshore.model.BadRecord` values naming the row and the field;
the rest of the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.classify.coerce import to_float64, to_string, to_timestamp, valid_mask
from onshore.classify.plan import FieldPlan
from onshore.classify.vin import CHECK_DIGIT, FORMAT, NULL, check_vin_codes
from onshore.model import BadRecord
from onshore.packs import Pack

CRS_NAMES = ("wgs84", "gcj02")


@dataclass(frozen=True)
class CheckedBatch:
    """The good rows, normalized; their original row numbers; the bad rows; warning counts."""

    batch: pa.RecordBatch
    rows: np.ndarray
    bad: tuple[BadRecord, ...]
    vin_check_digit_mismatches: int


class _Errors:
    """The first error of each row, in column order."""

    def __init__(self, n: int) -> None:
        self.field = np.full(n, -1, dtype=np.int32)
        self.messages: list[tuple[str, str]] = []  # (field, message) per code

    def flag(self, mask: np.ndarray, field: str, message: str) -> None:
        fresh = mask & (self.field < 0)
        if fresh.any():
            self.messages.append((field, message))
            self.field[fresh] = len(self.messages) - 1

    @property
    def bad(self) -> np.ndarray:
        return self.field >= 0


def check_batch(
    batch: pa.RecordBatch, plan: FieldPlan, pack: Pack, *, rows: np.ndarray | None = None
) -> CheckedBatch:
    """Normalize the canonical columns of ``batch`` and split off its bad rows."""
    n = batch.num_rows
    errors = _Errors(n)
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    mismatches = 0

    if plan.vin is not None:
        vins, bad_type = to_string(columns[plan.vin])
        status = check_vin_codes(vins)
        errors.flag(bad_type, plan.vin, "VIN is not a string")
        errors.flag(status == NULL, plan.vin, "VIN is missing")
        errors.flag(
            status == FORMAT,
            plan.vin,
            "not a VIN: needs 17 characters from 0-9 A-Z without I, O, Q",
        )
        wrong_digit = status == CHECK_DIGIT
        if pack.header.settings.vin_check_digit == "reject":
            errors.flag(wrong_digit, plan.vin, "VIN check digit (position 9) does not match")
        elif pack.header.settings.vin_check_digit == "warn":
            mismatches = int(wrong_digit.sum())
        columns[plan.vin] = vins

    if plan.ts is not None:
        ts, bad = to_timestamp(columns[plan.ts])
        errors.flag(bad, plan.ts, "timestamp does not parse (ISO 8601 or epoch seconds/ms)")
        errors.flag(~valid_mask(ts) & ~bad, plan.ts, "timestamp is missing")
        columns[plan.ts] = ts

    if plan.lat is not None and plan.lon is not None:
        for name, limit in ((plan.lat, 90.0), (plan.lon, 180.0)):
            values, bad = to_float64(columns[name])
            errors.flag(bad, name, "coordinate is not a number")
            arr = values.to_numpy(zero_copy_only=False)
            present = valid_mask(values)
            with np.errstate(invalid="ignore"):
                errors.flag(present & np.isnan(arr), name, "coordinate is NaN")
                errors.flag(
                    present & ~np.isnan(arr) & (np.abs(arr) > limit),
                    name,
                    f"coordinate out of range (|value| > {limit:g} degrees)",
                )
            columns[name] = values
        lat_ok = valid_mask(columns[plan.lat])
        lon_ok = valid_mask(columns[plan.lon])
        errors.flag(lat_ok & ~lon_ok, plan.lon, "longitude missing while latitude is given")
        errors.flag(lon_ok & ~lat_ok, plan.lat, "latitude missing while longitude is given")

    if plan.crs is not None:
        crs, bad = to_string(columns[plan.crs])
        crs = pc.utf8_lower(pc.utf8_trim_whitespace(crs))
        crs = pc.replace_substring(pc.replace_substring(crs, "-", ""), "_", "")
        # null: not said, so the input's declared system (is_in gives False, not null, there)
        known = np.asarray(
            pc.or_(pc.is_in(crs, value_set=pa.array(CRS_NAMES)), pc.is_null(crs)).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        errors.flag(
            bad | ~known, plan.crs, f"unknown coordinate system (one of: {', '.join(CRS_NAMES)})"
        )
        columns[plan.crs] = crs

    normalized = pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))
    bad_mask = errors.bad
    if rows is None:
        rows = np.arange(n, dtype=np.int64)
    if not bad_mask.any():
        return CheckedBatch(normalized, rows, (), mismatches)
    bad_idx = np.flatnonzero(bad_mask)
    raw = batch.take(pa.array(bad_idx)).to_pylist()
    bad_records = tuple(
        BadRecord(
            row=int(rows[i]),
            field=errors.messages[errors.field[i]][0],
            error=errors.messages[errors.field[i]][1],
            record=record,
        )
        for i, record in zip(bad_idx, raw, strict=True)
    )
    keep = pa.array(~bad_mask)
    return CheckedBatch(normalized.filter(keep), rows[~bad_mask], bad_records, mismatches)
