"""``onshore scan --engine spark``: one Parquet file or folder, classified on Spark.

The outputs are those of the embedded engine: the assessment (the same JSON), the labelled rows
(here a Parquet *folder*, one file per partition) and a quarantine JSON-lines file on the driver,
each bad row named by its file and its row number in that file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from onshore.errors import BadInput
from onshore.geo import AreaIndex
from onshore.io import quarantine_path
from onshore.model import Assessment
from onshore.packs import Pack
from onshore.spark.classify import classify_dataframe, read_parquet
from onshore.spark.session import spark_session

_NOT_PARQUET = (".csv", ".jsonl", ".json", ".ndjson", ".gz")
_URI = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/(?!/)")


def as_location(path: Path | str) -> str:
    """A path or URI as Spark needs it (``pathlib`` folds ``s3a://b/k`` into ``s3a:/b/k``)."""
    text = str(path)
    match = _URI.match(text)
    if match and match.group(1).lower() not in ("file", "hdfs"):
        text = _URI.sub(r"\1://", text, count=1)
    return text


def is_remote(location: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+:/", location)) and not location.startswith(
        "file:"
    )


def scan_path(
    path: Path,
    pack: Pack,
    index: AreaIndex | None,
    *,
    out: Path | None = None,
    subject: str | None = None,
    fmt: str | None = None,
    quarantine: Path | None = None,
    batch_rows: int = 65_536,
    crs: str = "wgs84",
    master: str | None = None,
) -> tuple[Assessment, str | None]:
    """Classify a Parquet file or folder on Spark; write labelled and quarantined rows."""
    location = as_location(path)
    if fmt not in (None, "parquet") or path.suffix.lower() in _NOT_PARQUET:
        raise BadInput("the Spark engine reads Parquet files and folders", file=location)
    if not is_remote(location) and not path.exists():
        raise BadInput("no such file or folder", file=location)
    target = as_location(out) if out is not None else None
    if out is not None and out.suffix.lower() in _NOT_PARQUET:
        raise BadInput("with --engine spark, --out is a Parquet folder", file=target)
    if out is not None and target is not None and not is_remote(target):
        _check_target(out)
    spark = spark_session(master)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    try:
        df = read_parquet(location, spark=spark)
    except Exception as exc:  # AnalysisException and the like: translated at the edge
        raise BadInput(f"cannot read Parquet: {_first_line(exc)}", file=location) from exc
    result = classify_dataframe(df, pack, index, subject=subject, source=str(path), crs=crs)
    result.persist()
    try:
        if target is not None:
            result.labelled.write.mode("overwrite").parquet(target)
        assessment = result.assessment()
        local_out = out if target is not None and not is_remote(target) else None
        qpath = quarantine or quarantine_path(path, local_out)  # on the driver, never remote
        count = 0
        if assessment.rows_quarantined:  # known from the tallies: no job when there are none
            lines = (row[0] for row in result.quarantine.toLocalIterator())
            count = _write_lines(qpath, lines)
    finally:
        result.unpersist()
    return assessment, (str(qpath) if count else None)


def _check_target(out: Path) -> None:
    """Refuse to replace anything but an earlier Spark output (a folder with ``_SUCCESS``)."""
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)  # as every command does
        return
    if out.is_dir() and ((out / "_SUCCESS").exists() or not any(out.iterdir())):
        return
    raise BadInput(
        "exists and is not an earlier Spark output; remove it or choose another --out",
        file=str(out),
    )


def _write_lines(path: Path, lines: Any) -> int:
    """Write JSON lines to ``path``, creating it only when there is at least one."""
    count = 0
    handle = None
    try:
        for line in lines:
            if handle is None:
                handle = open(path, "w", encoding="utf-8")  # noqa: SIM115
            handle.write(line + "\n")
            count += 1
    finally:
        if handle is not None:
            handle.close()
    return count


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
