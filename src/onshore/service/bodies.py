"""Request bodies: the media types the service reads, bounded, and how they become Arrow.

==========================================  =====================================
``application/x-ndjson`` (``application/jsonl``)  JSON lines, one object (a message) a line
``application/vnd.apache.arrow.stream``     Arrow IPC stream
``application/vnd.apache.arrow.file``       Arrow IPC file
``application/vnd.apache.parquet``          Parquet (scan and desensitize)
``text/csv``                                CSV with a header line (scan and desensitize)
``application/octet-stream``                GB/T 32960.3 frames, back to back (ingest)
==========================================  =====================================

Files are read with the same readers as the command line (:func:`onshore.io.open_source`),
so a bad line or row is quarantined with its number, as ``onshore scan`` does; a row holding a
time outside years 0001-9999 is such a bad row (:mod:`onshore.times`).

What a body decodes to is bounded as its size is (``max_bytes``, ``onshore serve
--max-body-bytes``): a compressed Arrow IPC body or a Parquet file (compressed pages,
dictionaries, run-length encoding) that would decode to more is refused with 413
(``payload-too-large``) before the memory is taken, from the sizes the format declares
(:mod:`onshore.io.guard`), and every batch is counted as it is read. Bodies with a
``Content-Encoding`` other than ``identity`` are refused with 415 before they are read
(:mod:`onshore.service.limits`): no route inflates gzip or zstd.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from onshore.errors import BadInput
from onshore.io import open_source
from onshore.io.guard import (
    Budget,
    TooLarge,
    check_ipc,
    check_names,
    check_types,
    drop_bad_times,
    first_bad_time,
    logical_nbytes,
)
from onshore.model import BadRecord
from onshore.service.problems import ServiceProblem
from onshore.service.state import DEFAULT_MAX_BODY

BODY = "request body"
JSONL = "application/x-ndjson"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
FRAMES = "application/octet-stream"
ALIASES = {
    "application/jsonl": JSONL,
    "application/json-lines": JSONL,
    "application/x-jsonlines": JSONL,
    "application/x-parquet": PARQUET,
}
FILE_TYPES = {JSONL: "jsonl", CSV: "csv", PARQUET: "parquet"}
ARROW_TYPES = (ARROW_STREAM, ARROW_FILE)


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header, lower case, without parameters."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def unsupported(media: str, accepted: tuple[str, ...]) -> ServiceProblem:
    return ServiceProblem(
        415,
        f"cannot read a body of type {media or '(none)'!r}; send one of {', '.join(accepted)}",
        accepted=list(accepted),
    )


def request_body(*media: str, description: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that reads a raw body of these types."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media},
        }
    }


def too_large(exc: TooLarge) -> ServiceProblem:
    """The 413 problem of a body that decodes to more than the limit."""
    return ServiceProblem(413, exc.message, file=BODY, max_body_bytes=exc.limit)


def _not_arrow(media: str, exc: Exception) -> ServiceProblem:
    why = exc.message if isinstance(exc, BadInput) else str(exc)
    return ServiceProblem(
        400, f"not an Arrow IPC {media.rsplit('.', 1)[-1]}: {why.split(': ', 1)[-1]}", file=BODY
    )


def _arrow_reader(
    body: bytes, media: str, max_bytes: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and batches of an Arrow IPC body, each batch charged as it is read.

    What every batch declares is checked first, before any is read (compressed buffers by
    their uncompressed length): 413 when it is more than ``max_bytes``.
    """
    buffer = pa.py_buffer(body)
    file_format = media == ARROW_FILE
    try:
        check_ipc(buffer, file_format, Budget(max_bytes, "the Arrow IPC body"), BODY)
    except TooLarge as exc:
        raise too_large(exc) from None
    except BadInput as exc:
        raise _not_arrow(media, exc) from None
    try:
        if file_format:
            file_reader = ipc.open_file(buffer)
            schema = file_reader.schema
            batches: Iterator[pa.RecordBatch] = (
                file_reader.get_batch(i) for i in range(file_reader.num_record_batches)
            )
        else:
            stream_reader = ipc.open_stream(buffer)
            schema, batches = stream_reader.schema, iter(stream_reader)
        names = schema.names  # a damaged body may name a field in bytes that are not UTF-8
    except (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
        OSError,
        UnicodeDecodeError,
    ) as exc:
        raise _not_arrow(media, exc) from None
    check_names(names, BODY)
    check_types(schema, BODY)
    return schema, _charged(batches, media, Budget(max_bytes, "the Arrow IPC body"))


def _charged(
    batches: Iterator[pa.RecordBatch], media: str, budget: Budget
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = next(batches)
            batch.validate(full=True)  # offsets and indices in bounds before anything reads them
        except StopIteration:
            return
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
            OSError,
            UnicodeDecodeError,
        ) as exc:
            raise _not_arrow(media, exc) from None
        try:
            budget.charge(logical_nbytes(batch), BODY)
        except TooLarge as exc:
            raise too_large(exc) from None
        yield batch


def read_arrow(body: bytes, media: str, *, max_bytes: int = DEFAULT_MAX_BODY) -> pa.Table:
    """An Arrow IPC stream or file as a table, decoding to at most ``max_bytes`` (else 413).

    400 naming the body if it is not one; ``BadInput`` naming the record and field of a time
    out of range (a table is taken whole or not at all).
    """
    schema, batches = _arrow_reader(body, media, max_bytes)
    table = pa.Table.from_batches(list(batches), schema=schema)
    first_bad_time(table, BODY)
    return table


@dataclass
class Upload:
    """A body being read as Arrow batches, with the records that could not be read."""

    batches_of: Iterator[tuple[pa.RecordBatch, np.ndarray]]
    bad: list[BadRecord] = field(default_factory=list)

    def batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        try:
            yield from self.batches_of
        except TooLarge as exc:
            raise too_large(exc) from None
        except BadInput as exc:
            raise BadInput(exc.message, file=BODY, record=exc.record, field=exc.field) from None


def _arrow_batches(
    batches: Iterator[pa.RecordBatch], batch_rows: int, bad: list[BadRecord]
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    done = 0
    for whole in batches:
        if whole.num_rows == 0:
            continue
        for offset in range(0, whole.num_rows, batch_rows):
            batch = whole.slice(offset, batch_rows)
            rows = np.arange(done, done + batch.num_rows, dtype=np.int64)
            done += batch.num_rows
            kept, kept_rows, out_of_range = drop_bad_times(batch, rows)
            bad.extend(out_of_range)
            yield kept, kept_rows


@dataclass
class Spool:
    """A temporary folder for bodies the file readers need on disk; removed on close."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="onshore-body-")))

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def upload(
        self,
        body: bytes,
        media: str,
        *,
        batch_rows: int = 65_536,
        max_bytes: int = DEFAULT_MAX_BODY,
    ) -> Upload:
        """Open ``body`` of ``media`` (a table type: JSON lines, CSV, Parquet, Arrow), to be read
        batch by batch; it may decode to at most ``max_bytes`` (else 413)."""
        if not body:
            raise ServiceProblem(400, "the body is empty", file=BODY)
        if media in ARROW_TYPES:
            _schema, batches = _arrow_reader(body, media, max_bytes)
            bad: list[BadRecord] = []
            arrow = Upload(_arrow_batches(batches, batch_rows, bad))
            arrow.bad = bad
            return arrow
        fmt = FILE_TYPES.get(media)
        if fmt is None:
            raise unsupported(media, (*FILE_TYPES, *ARROW_TYPES))
        path = self.folder / f"body.{fmt}"
        path.write_bytes(body)
        source = open_source(path, fmt=fmt, batch_rows=batch_rows, max_bytes=max_bytes)
        upload = Upload(source.batches())
        upload.bad = source.bad  # the reader appends to this list as it goes
        return upload
