"""Arrow tables through the idempotent ingest, as the MQTT worker does it for messages.

:class:`onshore.ingest.Ingestor` takes messages (JSON, GB/T 32960 frames) and decodes them; an
Arrow IPC body is already canonical rows, so :func:`ingest_table` only checks them
(:func:`canonical`) and hands them to :meth:`Ingestor.ingest_table
<onshore.ingest.Ingestor.ingest_table>`, which keys them ``(vin, ts in epoch ms, "json")`` and
follows the same protocol on the key index as for messages: claim the keys (a row stored before
is a duplicate and is dropped), run :func:`onshore.pipeline.ingest` (consent gate → classify →
residency → store → ledger), then confirm the batch. A refusal or bad input releases the claim
and is raised (403 / 422); any other failure lets recovery settle what the pipeline had
published before it raised.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.errors import BadInput
from onshore.ingest import BatchOutcome, Ingestor
from onshore.service.bodies import BODY
from onshore.times import MAX_MS, MIN_MS, out_of_range, range_text

TS = pa.timestamp("ms", tz="UTC")


def canonical(table: pa.Table) -> pa.Table:
    """Check ``vin`` (strings, no nulls) and ``ts`` (a zoned timestamp or epoch ms); ts → ms UTC."""
    for name in ("vin", "ts"):
        if name not in table.column_names:
            raise BadInput(f"no {name!r} column", file=BODY, field=name)
        column = table.column(name)
        if column.null_count:
            first = pc.index(pc.is_null(column), True).as_py()
            raise BadInput(f"{name} is null", file=BODY, record=first, field=name)
    vin = table.column("vin")
    if not (pa.types.is_string(vin.type) or pa.types.is_large_string(vin.type)):
        raise BadInput(f"vin must be a string column, not {vin.type}", file=BODY, field="vin")
    ts = table.column("ts")
    if pa.types.is_timestamp(ts.type):
        if ts.type.tz is None:
            raise BadInput("ts must be a timestamp with a time zone (UTC)", file=BODY, field="ts")
        _in_range(out_of_range(ts))
        ts = pc.cast(ts, pa.timestamp("ms", tz=ts.type.tz), safe=False).cast(TS)  # to the ms
    elif pa.types.is_integer(ts.type):
        values = pc.cast(ts, pa.float64(), safe=False)  # any integer type, uint64 included
        outside = pc.or_(pc.less(values, float(MIN_MS)), pc.greater(values, float(MAX_MS)))
        _in_range(np.asarray(pc.fill_null(outside, False).to_numpy(zero_copy_only=False)))
        ts = pc.cast(ts, pa.int64()).cast(TS)
    else:
        raise BadInput(
            f"ts must be a timestamp or epoch milliseconds, not {ts.type}", file=BODY, field="ts"
        )
    return table.set_column(table.column_names.index("ts"), "ts", ts)


def _in_range(outside: np.ndarray) -> None:
    if outside.any():
        raise BadInput(
            f"ts out of range ({range_text()})", file=BODY, record=int(outside.argmax()), field="ts"
        )


def ingest_table(ingestor: Ingestor, dataset: str, table: pa.Table) -> BatchOutcome:
    """Store the rows of ``table`` not stored before; see the module doc."""
    return ingestor.ingest_table(dataset, canonical(table), fmt="arrow")
