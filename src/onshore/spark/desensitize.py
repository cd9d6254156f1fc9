"""Desensitization of Spark DataFrames: the core :class:`~onshore.desensitize.Desensitizer` runs
inside the executors (``mapInArrow``), and the driver merges what the partitions measured.

The driver builds one Desensitizer (profile, pack, pseudonymization key, sensitive-area indexes,
boundaries) and broadcasts it, pickled, once; each partition unpickles its own copy, pushes its
batches through it and ends it with ``finish(part=True)``. When the profile has ``trips`` (and so
per-trip pseudonyms and origin-destination flows), the rows are first repartitioned by the
subject column and sorted by subject and time within each partition, so that every vehicle's
rows meet in one runner, in the order the embedded runner gives them.

One pass yields one *tagged* DataFrame holding three kinds of rows:

* ``ROW``: a batch of released rows, as Arrow IPC bytes (the output schema is the core's, known
  only once rows flow; :attr:`SparkDesensitization.rows` decodes them into a DataFrame);
* ``BAD``: a quarantined input row, as the JSON line ``onshore desensitize`` writes;
* ``PIECE``: one per partition, the pickled :class:`~onshore.desensitize.runner.RunnerPart`:
  classification tallies and distinct subjects before and after, the unicity and k-anonymity
  meters' rows, every step's counts, and the state of whole-stream steps (``aggregate``).

The driver merges the pieces into a fresh Desensitizer (:meth:`Desensitizer.merge`): tallies
add up; distinct subjects, the meters' rows and the aggregate's distinct (cell, hour, vehicle)
and trip rows are unions, so every figure is exact. Then ``finish`` releases the aggregates
(k-suppression over the whole dataset) and ``report`` gives the risk report with the promise
check. Driver memory: what the embedded runner's meters hold for the whole dataset (distinct
subjects, distinct (subject, trace, cell, bucket) rows, distinct quasi-identifier rows per
subject) plus, for ``aggregate``, its distinct (cell, hour, vehicle) and trip rows; never the
rows themselves. Nothing of the profile's logic is re-implemented here.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from onshore.classify import Classifier
from onshore.desensitize import Desensitizer, RiskReport
from onshore.errors import BadInput
from onshore.geo import AreaCatalogue, AreaIndex
from onshore.io import quarantine_path
from onshore.jsonenc import dumps
from onshore.keystore import Key
from onshore.packs import Pack
from onshore.packs.profiles import Profile
from onshore.spark.classify import (
    FILE_COLUMN,
    ROW_COLUMN,
    _arrow_schema,
    _col,
    _conform,
    _partition_id,
    _plain,
    read_parquet,
)
from onshore.spark.scan import (
    _NOT_PARQUET,
    _check_target,
    _first_line,
    _write_lines,
    as_location,
    is_remote,
)
from onshore.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import DataFrame

KIND = "_onshore_kind"
DATA = "_onshore_data"
BAD_JSON = "_onshore_bad"
ROW, BAD, PIECE = 0, 1, 2
_TAGGED = pa.schema(
    [pa.field(KIND, pa.int8()), pa.field(DATA, pa.binary()), pa.field(BAD_JSON, pa.string())]
)
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class _Job:
    """What every partition needs besides the broadcast runner."""

    source: str | None
    located: bool
    names: tuple[str, ...]  # the input's column names (Spark sees positional stand-ins)


def _tagged(kind: int, data: list[bytes | None], bad: list[str | None]) -> pa.RecordBatch:
    n = len(data)
    kinds = pa.array(np.full(n, kind, dtype=np.int8))
    return pa.RecordBatch.from_arrays(
        [kinds, pa.array(data, pa.binary()), pa.array(bad, pa.string())], schema=_TAGGED
    )


def _to_ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=_IPC) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def _from_ipc(blob: bytes) -> Iterator[pa.RecordBatch]:
    with pa.ipc.open_stream(blob) as reader:
        yield from reader


def _desensitize_partition(
    batches: Iterator[pa.RecordBatch], shared: Broadcast[bytes], job: _Job
) -> Iterator[pa.RecordBatch]:
    """Run the core Desensitizer over one partition; runs on an executor."""
    runner: Desensitizer = pickle.loads(shared.value)  # this partition's own copy
    partition = _partition_id()
    for batch in batches:
        batch = pa.RecordBatch.from_arrays(batch.columns, names=list(job.names))
        files: list[str | None] | None = None
        file_rows: np.ndarray | None = None
        if job.located:
            files = batch.column(FILE_COLUMN).to_pylist()
            file_rows = batch.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
            keep = [
                i for i, n in enumerate(batch.schema.names) if n not in (FILE_COLUMN, ROW_COLUMN)
            ]
            batch = batch.select(keep)
        released = runner.push(batch, rows=np.arange(batch.num_rows, dtype=np.int64))
        for out in released:
            yield _tagged(ROW, [_to_ipc(out)], [None])
        if runner.last_bad:
            lines: list[str | None] = []
            for bad in runner.last_bad:
                payload = bad.to_dict()
                if files is not None and file_rows is not None:
                    payload = {"source": files[bad.row], **payload, "row": int(file_rows[bad.row])}
                else:
                    payload = {"source": job.source, "partition": partition, **payload}
                lines.append(dumps(payload, sort_keys=False))
            yield _tagged(BAD, [None] * len(lines), lines)
    for out in runner.finish(part=True):
        yield _tagged(ROW, [_to_ipc(out)], [None])
    yield _tagged(PIECE, [pickle.dumps(runner.part())], [None])


def _decode_rows(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Released rows from their IPC bytes, typed as Spark expects; runs on an executor."""
    for batch in batches:
        for blob in batch.column(0).to_pylist():
            for rows in _from_ipc(blob):
                yield _conform(rows, schema)


@dataclass
class SparkDesensitization:
    """A desensitized DataFrame: the released rows, the quarantine and the risk report.

    Lazy: :meth:`report` runs the Spark job (and merges on the driver) once;
    :attr:`rows` and :attr:`quarantine` read the same tagged data. Call :meth:`persist` first
    so the data is desensitized once.
    """

    tagged: DataFrame
    template: bytes = field(repr=False)
    _merged: tuple[RiskReport, list[pa.RecordBatch]] | None = field(default=None, repr=False)
    _out_schema: pa.Schema | None = field(default=None, repr=False)

    def persist(self) -> SparkDesensitization:
        """Keep the tagged data (memory, then disk) across the actions that read it."""
        from pyspark import StorageLevel

        self.tagged.persist(StorageLevel.MEMORY_AND_DISK)
        return self

    def unpersist(self) -> None:
        self.tagged.unpersist()

    def _merge(self) -> tuple[RiskReport, list[pa.RecordBatch]]:
        if self._merged is None:
            from pyspark.sql import functions as F

            runner: Desensitizer = pickle.loads(self.template)
            pieces = self.tagged.filter(F.col(KIND) == PIECE).select(DATA).collect()
            while pieces:  # one job; each piece is freed once merged
                runner.merge(pickle.loads(pieces.pop()[0]))
            released = runner.finish()  # whole-stream steps release here, over all partitions
            self._out_schema = runner.output_schema  # also when no row was released
            self._merged = (runner.report(), released)
        return self._merged

    def report(self) -> RiskReport:
        """The risk report over all partitions, exactly as one embedded run gives it."""
        return self._merge()[0]

    @property
    def rows(self) -> DataFrame | None:
        """The released rows: the executors' rows, plus the rows released on the driver by
        whole-stream steps (the aggregates); with no row released, an empty DataFrame of the
        output's columns (None only when no row reached the steps)."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        _, on_driver = self._merge()
        spark = self.tagged.sparkSession
        blobs = self.tagged.filter(F.col(KIND) == ROW).select(DATA)
        first = blobs.first()
        out: DataFrame | None = None
        if first is not None:
            schema = next(_from_ipc(first[0])).schema
            struct = from_arrow_schema(
                pa.schema([pa.field(f.name, _plain(f.type)) for f in schema])
            )
            target = _arrow_schema(struct)
            out = blobs.mapInArrow(partial(_decode_rows, schema=target), struct)
        if on_driver:
            local = spark.createDataFrame(pa.Table.from_batches(on_driver))
            out = local if out is None else out.unionByName(local)
        if out is None and self._out_schema is not None:
            out = spark.createDataFrame(self._out_schema.empty_table())
        return out

    @property
    def quarantine(self) -> DataFrame:
        """Quarantined input rows, one JSON line each (column ``value``)."""
        from pyspark.sql import functions as F

        return self.tagged.filter(F.col(KIND) == BAD).select(F.col(BAD_JSON).alias("value"))


def desensitize_dataframe(
    df: DataFrame,
    profile: Profile,
    pack: Pack,
    *,
    key: Key | None = None,
    areas: AreaCatalogue | AreaIndex | None = None,
    boundaries: AreaCatalogue | None = None,
    subject: str | None = None,
    source: str | None = None,
) -> SparkDesensitization:
    """Desensitize a Spark DataFrame with the core Desensitizer on the executors.

    The runner (profile, pack, key, area indexes, boundaries) is built here and broadcast
    once; the key therefore travels to the executors inside the cluster's broadcast. Bad usage
    (a profile that needs a key or areas it was not given, a missing subject column) is
    reported here, on the driver, before any job runs. Columns ``_onshore_file`` and
    ``_onshore_row`` (see :func:`onshore.spark.read_parquet`) locate quarantined rows.
    """
    index = areas if isinstance(areas, AreaIndex) or areas is None else AreaIndex.build(areas)
    template = Desensitizer(
        profile, pack, key=key, areas=index, boundaries=boundaries, subject=subject, source=source
    )
    located = FILE_COLUMN in df.columns and ROW_COLUMN in df.columns
    data = df.drop(FILE_COLUMN, ROW_COLUMN) if located else df
    plan = Classifier(pack, subject=subject, source=source).plan_for(_arrow_schema(data.schema))
    if any(step.op == "trips" for step in profile.steps):
        # a vehicle's rows meet in one partition, in time order: the trips of the embedded runner
        # as many partitions as the input has (not spark.sql.shuffle.partitions: each
        # partition costs a runner, a piece and its share of the merge); no subject: one
        parts = df.rdd.getNumPartitions() if plan.subject is not None else 1
        by = [_col(plan.subject)] if plan.subject is not None else []
        df = df.repartition(parts, *by)
        df = df.sortWithinPartitions(*[_col(c) for c in (plan.subject, plan.ts) if c])
    job = _Job(source=source, located=located, names=tuple(df.columns))
    blob = pickle.dumps(template)
    shared = df.sparkSession.sparkContext.broadcast(blob)
    stand_ins = [f"_onshore_c{i}" for i in range(len(df.columns))]  # dotted names, see classify
    from pyspark.sql.pandas.types import from_arrow_schema

    tagged = df.toDF(*stand_ins).mapInArrow(
        partial(_desensitize_partition, shared=shared, job=job), from_arrow_schema(_TAGGED)
    )
    return SparkDesensitization(tagged, blob)


def write_beside(out: Path) -> Callable[[Path, str], None] | None:
    """For a remote ``out`` (``hdfs://``, ``s3a://`` …), a writer of text files through the
    active Spark session's Hadoop file systems (the sidecar beside the output); else None."""
    if not is_remote(as_location(out)):
        return None

    def write(path: Path, text: str) -> None:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        assert session is not None
        jvm, context = session.sparkContext._jvm, session.sparkContext._jsc
        assert jvm is not None and context is not None
        target = jvm.org.apache.hadoop.fs.Path(as_location(path))
        stream = target.getFileSystem(context.hadoopConfiguration()).create(target, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    return write


def desensitize_path(
    path: Path,
    profile: Profile,
    pack: Pack,
    *,
    out: Path,
    key: Key | None = None,
    areas: AreaCatalogue | None = None,
    boundaries: AreaCatalogue | None = None,
    subject: str | None = None,
    fmt: str | None = None,
    quarantine: Path | None = None,
    batch_rows: int = 65_536,
    master: str | None = None,
) -> tuple[RiskReport, str | None, int]:
    """``onshore desensitize --engine spark``: a Parquet file or folder desensitized on Spark.

    Writes the released rows to ``out`` (a Parquet folder) only when the output keeps the
    profile's promise; quarantined rows go to a JSON-lines file on the driver either way.
    Returns the risk report, the quarantine file (or None) and its number of lines.
    """
    location = as_location(path)
    if fmt not in (None, "parquet") or path.suffix.lower() in _NOT_PARQUET:
        raise BadInput("the Spark engine reads Parquet files and folders", file=location)
    if not is_remote(location) and not path.exists():
        raise BadInput("no such file or folder", file=location)
    target = as_location(out)
    if out.suffix.lower() in _NOT_PARQUET:
        raise BadInput("with --engine spark, --out is a Parquet folder", file=target)
    if not is_remote(target):
        _check_target(out)
    spark = spark_session(master)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    try:
        df = read_parquet(location, spark=spark)
    except Exception as exc:  # AnalysisException and the like: translated at the edge
        raise BadInput(f"cannot read Parquet: {_first_line(exc)}", file=location) from exc
    result = desensitize_dataframe(
        df,
        profile,
        pack,
        key=key,
        areas=areas,
        boundaries=boundaries,
        subject=subject,
        source=str(path),
    ).persist()
    try:
        report = result.report()
        local_out = out if not is_remote(target) else None
        qpath = quarantine or quarantine_path(path, local_out)
        count = 0
        if report.rows_quarantined:  # known from the tallies: no job when there are none
            count = _write_lines(qpath, (r[0] for r in result.quarantine.toLocalIterator()))
        if report.promise.kept:
            rows = result.rows
            if rows is not None:
                rows.write.mode("overwrite").parquet(target)
    finally:
        result.unpersist()
    return report, (str(qpath) if count else None), count
