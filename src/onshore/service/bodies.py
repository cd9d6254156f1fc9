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
so a bad line or row is quarantined with its number, as ``onshore scan`` does.
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
from onshore.model import BadRecord
from onshore.service.problems import ServiceProblem

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


def read_arrow(body: bytes, media: str) -> pa.Table:
    """An Arrow IPC stream or file as a table; ``BadInput`` naming the body if it is not one."""
    try:
        if media == ARROW_FILE:
            return ipc.open_file(pa.py_buffer(body)).read_all()
        return ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ServiceProblem(400, f"not an Arrow IPC {media.rsplit('.', 1)[-1]}: {exc}") from None


@dataclass
class Upload:
    """A body being read as Arrow batches, with the records that could not be read."""

    batches_of: Iterator[tuple[pa.RecordBatch, np.ndarray]]
    bad: list[BadRecord] = field(default_factory=list)

    def batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        try:
            yield from self.batches_of
        except BadInput as exc:
            raise BadInput(exc.message, file=BODY, record=exc.record, field=exc.field) from None


def _arrow_batches(table: pa.Table, batch_rows: int) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    done = 0
    for batch in table.to_batches(max_chunksize=batch_rows):
        yield batch, np.arange(done, done + batch.num_rows, dtype=np.int64)
        done += batch.num_rows


@dataclass
class Spool:
    """A temporary folder for bodies the file readers need on disk; removed on close."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="onshore-body-")))

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def upload(self, body: bytes, media: str, *, batch_rows: int = 65_536) -> Upload:
        """Open ``body`` of ``media`` (a table type: JSON lines, CSV, Parquet, Arrow)."""
        if not body:
            raise ServiceProblem(400, "the body is empty", file=BODY)
        if media in ARROW_TYPES:
            return Upload(_arrow_batches(read_arrow(body, media), batch_rows))
        fmt = FILE_TYPES.get(media)
        if fmt is None:
            raise unsupported(media, (*FILE_TYPES, *ARROW_TYPES))
        path = self.folder / f"body.{fmt}"
        path.write_bytes(body)
        source = open_source(path, fmt=fmt, batch_rows=batch_rows)
        upload = Upload(source.batches())
        upload.bad = source.bad  # the reader appends to this list as it goes
        return upload
