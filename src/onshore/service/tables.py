"""Arrow tables through the idempotent ingest, as the MQTT worker does it for messages.

:class:`onshore.ingest.Ingestor` takes messages (JSON, GB/T 32960 frames) and decodes them; an
Arrow IPC body is already canonical rows, so :func:`ingest_table` only keys them — ``(vin, ts in
epoch ms, "json")``, the kind of any canonical row that is not a GB/T 32960 frame, which is
also what crash recovery reads back from the lake — and follows the same protocol on the
ingestor's key index: claim the keys (a row stored before is a duplicate and is dropped),
run :func:`onshore.pipeline.ingest` (consent gate → classify → residency → store → ledger),
then confirm the batch. A refusal or bad input releases the claim and is raised (403 / 422);
any other failure lets recovery settle what the pipeline had published before it raised.
"""

from __future__ import annotations

import contextlib
import time

import pyarrow as pa
import pyarrow.compute as pc

from onshore.errors import BadInput, PolicyRefusal
from onshore.ingest import BatchOutcome, Ingestor, recover
from onshore.pipeline import ingest as run_pipeline
from onshore.service.bodies import BODY

TS = pa.timestamp("ms", tz="UTC")
KIND = "json"


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
        ts = pc.cast(ts, pa.timestamp("ms", tz=ts.type.tz)).cast(TS)
    elif pa.types.is_integer(ts.type):
        ts = pc.cast(ts, pa.int64()).cast(TS)
    else:
        raise BadInput(
            f"ts must be a timestamp or epoch milliseconds, not {ts.type}", file=BODY, field="ts"
        )
    return table.set_column(table.column_names.index("ts"), "ts", ts)


def ingest_table(ingestor: Ingestor, dataset: str, table: pa.Table) -> BatchOutcome:
    """Store the rows of ``table`` not stored before; see the module doc."""
    started = time.perf_counter()
    table = canonical(table)
    vins = table.column("vin").to_pylist()
    stamps = table.column("ts").cast(pa.int64()).to_pylist()
    keys = [(v, t, KIND) for v, t in zip(vins, stamps, strict=True)]
    base = {
        "dataset": dataset,
        "fmt": "arrow",
        "messages": 1,
        "rows": table.num_rows,
        "rejected": 0,
    }
    if table.num_rows == 0:
        return BatchOutcome(
            **base, stored=0, duplicates=0, quarantined_rows=0, files=(), seconds=0.0
        )
    options = ingestor.options
    claim = ingestor.index.claim(dataset, options.purpose, keys)
    new = table.filter(pa.array(claim.new)) if claim.duplicates else table
    if new.num_rows == 0:
        ingestor.index.release(claim.batch)
        return BatchOutcome(
            **base,
            stored=0,
            duplicates=claim.duplicates,
            quarantined_rows=0,
            files=(),
            seconds=time.perf_counter() - started,
        )
    try:
        result = run_pipeline(
            ingestor.home,
            [(b, None) for b in new.to_batches()],
            dataset=dataset,
            purpose=options.purpose,
            store=options.store,
            areas=ingestor.areas,
            origin=options.origin,
            subject=options.subject,
        )
    except (PolicyRefusal, BadInput):
        ingestor.index.release(claim.batch)
        raise
    except BaseException:
        with contextlib.suppress(Exception):
            recover(ingestor.index, batch=claim.batch)
        raise
    files = tuple(f.path for f in result.files)
    ingestor.index.stored(claim.batch, files)
    return BatchOutcome(
        **base,
        stored=result.rows_stored,
        duplicates=claim.duplicates,
        quarantined_rows=result.rows_quarantined,
        files=files,
        seconds=time.perf_counter() - started,
        level=result.assessment.level.label,
    )
