"""Write labelled batches (Parquet, CSV, JSON lines) and quarantined records (JSON lines)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from onshore.io.readers import detect_format
from onshore.jsonenc import dumps
from onshore.model import BadRecord

FORMATS: dict[str, str] = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
"""Every format :class:`TableWriter` writes, with its extension. Each is an input format too:
whatever Onshore writes, Onshore reads back (tests/io/test_roundtrip_formats.py runs every
writing command in every format here into the matching reading command)."""

ROW_GROUP_ROWS = 1 << 18
ROW_GROUP_BYTES = 256 << 20


class TableWriter:
    """Write record batches to a file whose format follows its extension.

    CSV cannot hold lists, so list columns (``onshore_reasons``) are joined with ``;`` there.
    Parquet gets row groups of up to ``row_group_rows`` rows (or ``row_group_bytes``, whichever
    comes first): batches are held until there are that many, never more. Dictionary columns
    (the labels) stay dictionary-encoded. The file appears under its final name only when the
    writer closes cleanly; its folder is made on the first write if it does not exist.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str | None = None,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self.path = Path(path)
        self.format = detect_format(self.path, fmt)
        assert self.format in FORMATS, self.format  # a reader's format this writer cannot write
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._writer: Any = None
        self._fh: Any = None
        self.rows = 0
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self._held: list[pa.RecordBatch] = []
        self._held_rows = 0
        self._held_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self.format == "csv":
            batch = _flatten_lists(batch)
        if self._writer is None and self._fh is None:
            # Like every command that writes a file: the output's folder is made when needed.
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(
                    self._tmp, batch.schema, compression="zstd", write_batch_size=65_536
                )
            elif self.format == "csv":
                self._writer = pcsv.CSVWriter(self._tmp, batch.schema)
            else:
                self._fh = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115
        if self.format == "parquet":
            self._hold(batch)
        elif self._writer is not None:
            self._writer.write_batch(batch)
        else:
            for row in batch.to_pylist():
                self._fh.write(dumps(row, sort_keys=False) + "\n")
        self.rows += batch.num_rows

    def _hold(self, batch: pa.RecordBatch) -> None:
        """Parquet: hold batches until a row group is full (each write would start a new one)."""
        self._held.append(batch)
        self._held_rows += batch.num_rows
        self._held_bytes += batch.get_total_buffer_size()
        if self._held_rows >= self.row_group_rows or self._held_bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._held:
            return
        table = pa.Table.from_batches(self._held)
        self._held, self._held_rows, self._held_bytes = [], 0, 0
        self._writer.write_table(table, row_group_size=max(self.row_group_rows, table.num_rows))

    def close(self, schema: pa.Schema | None = None) -> None:
        """Finish the file; with no batch written, an empty file of ``schema`` is written."""
        if self._writer is None and self._fh is None and schema is not None:
            self.write(pa.RecordBatch.from_pylist([], schema=schema))
        if self._writer is not None:
            if self.format == "parquet":
                self._flush()
            self._writer.close()
        if self._fh is not None:
            self._fh.close()
        if self._tmp.exists():
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._held.clear()
        if self._writer is not None:
            self._writer.close()
        if self._fh is not None:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _scalar_list(t: pa.DataType) -> bool:
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and not pa.types.is_nested(
        t.value_type
    )


def _json_text(column: pa.Array) -> pa.Array:
    """Nested values (structs, lists of structs: a GB/T 32960 frame's motors) as JSON text.

    Row by row, as Arrow has no JSON encoder; only CSV output of nested columns pays it."""
    return pa.array(
        [None if v is None else dumps(v, sort_keys=False) for v in column.to_pylist()],
        pa.string(),
    )


def _flatten_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch as CSV can hold it: lists of scalars joined with ``;``, other nested values as
    JSON text, binary as hex, dictionaries decoded, and text that a spreadsheet would run as a
    formula made inert (:func:`inert_text`)."""
    arrays = []
    for column in batch.columns:
        if _scalar_list(column.type) and not pa.types.is_binary(column.type.value_type):
            column = pc.binary_join(column.cast(pa.list_(pa.string())), ";")
        elif pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
            column = _json_text(column) if pa.types.is_nested(column.type) else _hex(column)
        elif pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = inert_text(column)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _hex(column: pa.Array) -> pa.Array:
    return pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())


_FORMULA = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def inert_text(column: pa.Array) -> pa.Array:
    """Text cells a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return; OWASP's CSV injection list) get a leading ``'``, so
    Excel and LibreOffice show them as text. Signed numbers (``-12.5``) are left alone.

    >>> inert_text(pa.array(["=SUM(A1)", "-12.5", "ok", None])).to_pylist()
    ["'=SUM(A1)", '-12.5', 'ok', None]
    """
    risky = pc.and_(
        pc.match_substring_regex(column, _FORMULA),
        pc.invert(pc.match_substring_regex(column, _NUMBER)),
    )
    if not pc.any(risky).as_py():
        return column
    quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, "")
    return pc.if_else(risky, quoted, column)


class QuarantineWriter:
    """Bad records, one JSON object per line: row, line, field, error, source and the record."""

    def __init__(self, path: str | os.PathLike[str], source: str | None = None) -> None:
        self.path = Path(path)
        self.source = source
        self.count = 0
        self._fh: Any = None

    def write(self, records: Sequence[BadRecord]) -> None:
        if not records:
            return
        if self._fh is None:
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        for record in records:
            payload = {"source": self.source, **record.to_dict()}
            self._fh.write(dumps(payload, sort_keys=False) + "\n")
            self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def quarantine_path(input_path: Path, out: Path | None) -> Path:
    """Beside the output when there is one; else ``<input stem>.quarantine.jsonl`` here."""
    if out is not None:
        return out.with_name(out.name + ".quarantine.jsonl")
    return Path.cwd() / f"{input_path.name}.quarantine.jsonl"
