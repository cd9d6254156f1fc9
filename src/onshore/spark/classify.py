"""Classification of Spark DataFrames: the core :class:`~onshore.classify.Classifier` runs inside
the executors (``mapInArrow``), and the driver adds up what the partitions counted.

One pass over the data yields one *tagged* DataFrame holding three kinds of rows:

* ``ROW``: an input row with ``onshore_level``, ``onshore_reasons``, ``onshore_area`` (as the
  core gives them, dictionary types made plain);
* ``BAD``: a quarantined row, as the JSON line ``onshore scan`` writes to its quarantine file;
* ``TALLY``: one per partition, the pickled :class:`~onshore.classify.engine.Tally` of its
  additive figures (rows per level, per category, per rule, per area, quarantined rows).

Distinct subjects and vehicles are not additive; they are counted exactly by Spark
(``count_distinct`` over the labelled rows, subjects only where the level is personal or above),
and the core evaluates the dataset rules on the combined figures
(:meth:`~onshore.classify.Classifier.assessment`). Nothing of the policy is re-implemented here.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial, reduce
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from onshore.classify import Classifier
from onshore.classify.engine import Tally
from onshore.jsonenc import dumps
from onshore.model import LEVEL_LABELS, Assessment, Level
from onshore.packs import Pack

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import Column, DataFrame

    from onshore.geo import AreaCatalogue, AreaIndex

KIND = "_onshore_kind"
BAD_JSON = "_onshore_bad"
TALLY = "_onshore_tally"
FILE_COLUMN = "_onshore_file"  # optional input columns locating each row in its file
ROW_COLUMN = "_onshore_row"
ROW, BAD, PIECE = 0, 1, 2
_PERSONAL_LEVELS = list(LEVEL_LABELS[Level.PERSONAL :])


@dataclass(frozen=True)
class _Job:
    """What every partition needs besides the broadcast pack and index."""

    subject: str | None
    source: str | None
    crs: str
    located: bool
    names: tuple[str, ...]  # the input's column names (Spark sees positional stand-ins)
    out_schema: pa.Schema


def _plain(t: pa.DataType) -> pa.DataType:
    """Dictionary types (and lists of them) as their plain value types, for Spark."""
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(_plain(t.value_type))
    return t


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with the exact column types Spark expects of this stage's output."""
    arrays = [
        column if column.type == f.type else column.cast(f.type)
        for column, f in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _tagged_rows(labelled: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    n = labelled.num_rows
    tail = [
        pa.array(np.full(n, ROW, dtype=np.int8)),
        pa.nulls(n, pa.string()),
        pa.nulls(n, pa.binary()),
    ]
    return _conform(
        pa.RecordBatch.from_arrays([*labelled.columns, *tail], names=schema.names), schema
    )


def _tagged_extras(kind: int, values: list[Any], schema: pa.Schema) -> pa.RecordBatch:
    n = len(values)
    head = [pa.nulls(n, f.type) for f in schema][:-3]
    bad = pa.array(values if kind == BAD else [None] * n, pa.string())
    tally = pa.array(values if kind == PIECE else [None] * n, pa.binary())
    kinds = pa.array(np.full(n, kind, dtype=np.int8))
    return pa.RecordBatch.from_arrays([*head, kinds, bad, tally], schema=schema)


def _classify_partition(
    batches: Iterator[pa.RecordBatch], shared: Broadcast[tuple[Pack, Any]], job: _Job
) -> Iterator[pa.RecordBatch]:
    """Run the core classifier over one partition; runs on an executor."""
    pack, index = shared.value
    classifier = Classifier(pack, index, subject=job.subject, source=job.source, crs=job.crs)
    partition = _partition_id()
    seen = 0
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
        start = seen
        position = np.arange(start, start + batch.num_rows, dtype=np.int64)
        seen += batch.num_rows
        result = classifier.classify_batch(batch, rows=position)
        if result.data.num_rows:
            yield _tagged_rows(result.labelled(), job.out_schema)
        if result.bad:
            lines = []
            for bad in result.bad:
                payload = bad.to_dict()
                if files is not None and file_rows is not None:
                    # bad.row counts through the partition; the file columns are this batch's
                    at = bad.row - start
                    payload = {"source": files[at], **payload, "row": int(file_rows[at])}
                else:
                    payload = {"source": job.source, "partition": partition, **payload}
                lines.append(dumps(payload, sort_keys=False))
            yield _tagged_extras(BAD, lines, job.out_schema)
    yield _tagged_extras(PIECE, [pickle.dumps(classifier.tally())], job.out_schema)


def _partition_id() -> int | None:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else None


@dataclass(frozen=True)
class SparkClassification:
    """A classified DataFrame: labelled rows, quarantined rows and, on demand, the assessment.

    Everything is lazy; each of :attr:`labelled`, :attr:`quarantine` and :meth:`assessment`
    is computed by a Spark action. Call :meth:`persist` first when using more than one of them,
    so the data is classified once.
    """

    tagged: DataFrame
    schema: pa.Schema
    pack: Pack
    index: AreaIndex | None
    subject: str | None
    source: str | None
    crs: str

    @property
    def labelled(self) -> DataFrame:
        """The input columns plus ``onshore_level``, ``onshore_reasons``, ``onshore_area``."""
        from pyspark.sql import functions as F

        return self.tagged.filter(F.col(KIND) == ROW).drop(KIND, BAD_JSON, TALLY)

    @property
    def quarantine(self) -> DataFrame:
        """Quarantined rows, one JSON line each (column ``value``), as ``onshore scan`` writes
        them: source, row (in its file when the input was read by :func:`read_parquet`),
        field, error and the record."""
        from pyspark.sql import functions as F

        return self.tagged.filter(F.col(KIND) == BAD).select(F.col(BAD_JSON).alias("value"))

    def persist(self) -> SparkClassification:
        """Keep the classified data (memory, then disk) across the actions that read it."""
        from pyspark import StorageLevel

        self.tagged.persist(StorageLevel.MEMORY_AND_DISK)
        return self

    def unpersist(self) -> None:
        self.tagged.unpersist()

    def assessment(self) -> Assessment:
        """The dataset assessment, exact over all partitions (two Spark actions)."""
        from pyspark.sql import functions as F

        classifier = Classifier(
            self.pack, self.index, subject=self.subject, source=self.source, crs=self.crs
        )
        plan = classifier.plan_for(self.schema)
        pieces = self.tagged.filter(F.col(KIND) == PIECE).select(TALLY).collect()
        classifier.add_tally(reduce(Tally.__add__, (pickle.loads(r[0]) for r in pieces), Tally()))
        figures: list[Column] = []
        if plan.subject is not None:
            personal = F.col("onshore_level").isin(_PERSONAL_LEVELS)
            figures.append(F.count_distinct(F.when(personal, _col(plan.subject))).alias("s"))
        if plan.vin is not None:
            figures.append(F.count_distinct(_col(plan.vin)).alias("v"))
        counted = self.labelled.agg(*figures).first() if figures else None
        subjects = int(counted["s"]) if counted is not None and plan.subject is not None else 0
        vehicles = int(counted["v"]) if counted is not None and plan.vin is not None else 0
        return classifier.assessment(distinct_subjects=subjects, distinct_vehicles=vehicles)


def classify_dataframe(
    df: DataFrame,
    pack: Pack,
    areas: AreaIndex | AreaCatalogue | None = None,
    *,
    subject: str | None = None,
    source: str | None = None,
    crs: str = "wgs84",
) -> SparkClassification:
    """Classify a Spark DataFrame with the core classifier on the executors.

    The pack and the area index are broadcast once. Columns ``_onshore_file`` and
    ``_onshore_row`` (see :func:`onshore.spark.read_parquet`), when present, locate each row
    for the quarantine and are not classified. Bad usage (a missing ``subject`` column, label
    columns already present) is reported here, on the driver, before any job runs.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    index = Classifier(pack, areas).index  # an AreaCatalogue is indexed once, here
    located = FILE_COLUMN in df.columns and ROW_COLUMN in df.columns
    data = df.drop(FILE_COLUMN, ROW_COLUMN) if located else df
    schema = _arrow_schema(data.schema)
    probe = Classifier(pack, index, subject=subject, source=source, crs=crs)
    empty = probe.classify_batch(pa.RecordBatch.from_pylist([], schema=schema)).labelled()
    fields = [pa.field(f.name, _plain(f.type)) for f in empty.schema]
    fields += [pa.field(KIND, pa.int8()), pa.field(BAD_JSON, pa.string())]
    fields.append(pa.field(TALLY, pa.binary()))
    spark_schema = from_arrow_schema(pa.schema(fields))
    job = _Job(
        subject=subject,
        source=source,
        crs=crs,
        located=located,
        names=tuple(df.columns),
        out_schema=_arrow_schema(spark_schema),
    )
    shared = df.sparkSession.sparkContext.broadcast((pack, index))
    # PySpark's mapInArrow cannot pass columns whose names hold dots (VSS paths such as
    # Vehicle.Speed): rename by position on the way in; the executor restores the names
    stand_ins = [f"_onshore_c{i}" for i in range(len(df.columns))]
    tagged = df.toDF(*stand_ins).mapInArrow(
        partial(_classify_partition, shared=shared, job=job), spark_schema
    )
    return SparkClassification(tagged, schema, pack, index, subject, source, crs)


def _arrow_schema(struct: Any) -> pa.Schema:
    """The Arrow schema of a Spark schema (timestamps in UTC), on PySpark 3.5 and 4."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        return to_arrow_schema(struct, timezone="UTC")
    except TypeError:  # PySpark 3.5: no timezone argument
        return to_arrow_schema(struct)


def read_parquet(path: str, *, spark: Any = None) -> DataFrame:
    """Read a Parquet file or folder with each row's file and row number (for the quarantine)."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    session = spark or SparkSession.active()
    df = session.read.parquet(path)
    return df.select(
        "*",
        F.col("_metadata.file_path").alias(FILE_COLUMN),
        F.col("_metadata.row_index").alias(ROW_COLUMN),
    )
