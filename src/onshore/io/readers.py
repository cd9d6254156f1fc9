"""Stream an input file as Arrow record batches, never holding more than a block in memory.

* Parquet: row group by row group, in batches of at most ``batch_rows`` rows.
* CSV: column types are inferred from the first block; the file is then read with every column
  as text and each column converted with vectorized casts, so one bad value quarantines one row
  instead of failing the file. Rows with the wrong number of fields are quarantined by line.
* JSON lines: blocks of whole lines parsed by Arrow; a block that fails is bisected down to the
  offending lines, which are quarantined with their line numbers.

Parse failures come back as :class:`~onshore.model.BadRecord` values through ``Source.bad``, and
so do rows holding a time outside the range Python (and Onshore) can hold (:mod:`onshore.times`).
Columns must have names, each its own. With ``max_bytes`` (the service) the input may decode to
at most that many bytes (:mod:`onshore.io.guard`): a Parquet file's page headers are checked
before any page is read, every batch is charged as it is read (text dictionaries before they
are expanded), and past the limit the read stops with :class:`~onshore.io.guard.TooLarge`.
"""

from __future__ import annotations

import codecs
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from onshore.classify.coerce import cast_isolating
from onshore.errors import BadInput
from onshore.io.guard import (
    Budget,
    binary_leaves,
    check_names,
    check_parquet,
    check_types,
    drop_bad_times,
    logical_nbytes,
)
from onshore.model import BadRecord

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
DEFAULT_BLOCK = 8 << 20
CSV_BLOCK = 1 << 20
"""Arrow's CSV reader reads up to 32 blocks ahead of the one it hands over: blocks of 1 MiB
keep that near 32 MiB whatever the file's size (8 MiB blocks held 256 MiB), at no cost in speed."""
_NAMES = {"parquet": "Parquet file", "csv": "CSV", "jsonl": "JSON lines"}
NULLS = ["", "NA", "N/A", "null", "NULL", "None"]
_PATTERNS = {
    "int": r"^\s*[-+]?\d+\s*$",
    "float": r"^\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|NaN|inf|-inf|Infinity)\s*$",
    "bool": r"^\s*(true|false|True|False|TRUE|FALSE|1|0)\s*$",
}


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``parquet``, ``csv`` or ``jsonl`` from ``fmt`` or the file's extension."""
    if fmt:
        if fmt not in {"parquet", "csv", "jsonl"}:
            raise BadInput(f"unknown format {fmt!r} (parquet, csv or jsonl)", file=str(path))
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FORMATS:
        return FORMATS[suffixes[-1]]
    raise BadInput(
        "cannot tell the format from the extension (.parquet, .csv, .jsonl); use --format",
        file=str(path),
    )


@dataclass
class Source:
    """An input file being streamed. Iterate ``batches()``; read ``bad`` and ``done_bytes``."""

    path: Path
    format: str
    batch_rows: int = 65_536
    block_bytes: int | None = None  # None: CSV_BLOCK for CSV, DEFAULT_BLOCK for JSON lines
    sample_bytes: int = 1 << 20  # CSV: how much of the file column types are inferred from
    bad: list[BadRecord] = field(default_factory=list)
    done: int = 0  # progress, in ``unit``
    total: int = 0
    unit: str = "bytes"
    max_bytes: int | None = None  # what the input may decode to (None: no bound)
    encoding: str | None = None  # CSV: None detects (UTF-8 with or without BOM, else GB18030)

    def batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        """Yield ``(batch, rows)``: the batch and the 0-based input record number of each row."""
        reader = {"parquet": self._parquet, "csv": self._csv, "jsonl": self._jsonl}[self.format]
        file = str(self.path)
        budget = (
            None if self.max_bytes is None else Budget(self.max_bytes, f"the {_NAMES[self.format]}")
        )
        named: pa.Schema | None = None
        try:
            for batch, rows in reader(budget):
                if batch.schema is not named:
                    check_names(batch.schema.names, file)
                    check_types(batch.schema, file)
                    named = batch.schema
                if budget is not None and self.format != "parquet":  # Parquet charges its own
                    budget.charge(logical_nbytes(batch), file)
                batch.validate(full=True)  # UTF-8, offsets: before anything reads the values
                kept, kept_rows, bad = drop_bad_times(batch, rows)
                self.bad.extend(bad)
                yield kept, kept_rows
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read {self.format}: {exc}", file=file) from exc

    # -- Parquet -------------------------------------------------------------------------------
    def _parquet(self, budget: Budget | None) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        pf = pq.ParquetFile(self.path)
        self.total, self.unit = pf.metadata.num_rows, "rows"
        schema = pf.schema_arrow
        check_names(schema.names, str(self.path))
        if budget is not None:
            check_parquet(self.path, budget, str(self.path))
            # text as dictionaries, charged at its expanded size before it is expanded
            pf = pq.ParquetFile(self.path, read_dictionary=binary_leaves(pf))
        # One row group at a time: a reader over the whole file keeps what it has read in
        # Arrow's pool, and memory grows with the file (issue 21); per row group it does not.
        for group in range(pf.num_row_groups):
            for batch in pf.iter_batches(batch_size=self.batch_rows, row_groups=[group]):
                if budget is not None:
                    budget.charge(logical_nbytes(batch), str(self.path))
                    batch = batch.cast(schema)
                rows = np.arange(self.done, self.done + batch.num_rows, dtype=np.int64)
                self.done += batch.num_rows
                yield batch, rows

    # -- CSV -----------------------------------------------------------------------------------
    def _csv(self, _budget: Budget | None) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        self.total = os.path.getsize(self.path)
        with open(self.path, "rb") as fh:
            head = fh.read(self.sample_bytes)
        cut = head.rfind(b"\n") + 1 if len(head) == self.sample_bytes else len(head)
        encoding = csv_encoding(head[:cut] or head, self.encoding, str(self.path))
        self.encoding = encoding
        try:
            sample = pcsv.read_csv(
                io.BytesIO(head[:cut] or head),
                read_options=pcsv.ReadOptions(encoding=encoding),
                parse_options=pcsv.ParseOptions(invalid_row_handler=lambda _r: "skip"),
                convert_options=pcsv.ConvertOptions(strings_can_be_null=True, null_values=NULLS),
            )
        except pa.ArrowInvalid as exc:
            raise BadInput(f"not a CSV file: {exc}", file=str(self.path)) from exc
        check_names(sample.column_names, str(self.path))
        types = {name: sample.schema.field(name).type for name in sample.column_names}

        skipped: list[int] = []

        def on_bad_row(row: pcsv.InvalidRow) -> str:
            line = row.number
            if line is not None:
                skipped.append(line - 2)
            self.bad.append(
                BadRecord(
                    row=-1 if line is None else line - 2,
                    field=None,
                    error=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                    record={"text": row.text[:1000]},
                    line=line,
                )
            )
            return "skip"

        reader = pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(
                block_size=self.block_bytes or CSV_BLOCK, use_threads=False, encoding=encoding
            ),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_bad_row),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in types},
                strings_can_be_null=True,
                null_values=NULLS,
            ),
        )
        first = 0
        position = 0
        for batch in reader:
            # parsed position -> data-row number, stepping over the rows the parser skipped
            parsed = np.arange(first, first + batch.num_rows, dtype=np.int64)
            at = np.sort(np.asarray(skipped, dtype=np.int64))
            at -= np.arange(len(at), dtype=np.int64)
            real = parsed + np.searchsorted(at, parsed, side="right")
            converted, keep, bad = _convert_csv(batch, types, real)
            self.bad.extend(bad)
            rows = real[keep]
            first += batch.num_rows
            position = min(self.total, position + batch.get_total_buffer_size())
            self.done = position
            yield converted, rows
        self.done = self.total

    # -- JSON lines ----------------------------------------------------------------------------
    def _jsonl(self, _budget: Budget | None) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        self.total = os.path.getsize(self.path)
        schema: pa.Schema | None = None
        emitted = 0
        line_no = 1
        with open(self.path, "rb") as fh:
            carry = b""
            while True:
                chunk = fh.read(self.block_bytes or DEFAULT_BLOCK)
                block = carry + chunk
                if not chunk:
                    carry = b""
                else:
                    cut = block.rfind(b"\n") + 1
                    if cut == 0:
                        carry = block
                        continue
                    block, carry = block[:cut], block[cut:]
                if block.strip():
                    block = self._drop_bad_utf8(block, line_no)
                    table = self._parse_json_block(block, line_no, schema)
                    if table is not None and table.num_rows:
                        if schema is None:
                            schema = table.schema
                        for batch in table.to_batches(max_chunksize=self.batch_rows):
                            n = batch.num_rows
                            yield batch, np.arange(emitted, emitted + n, dtype=np.int64)
                            emitted += n
                line_no += block.count(b"\n")
                self.done = min(self.total, self.done + len(block))
                if not chunk:
                    break

    def _drop_bad_utf8(self, block: bytes, first_line: int) -> bytes:
        """Lines that are not UTF-8 quarantined and blanked (Arrow's JSON parser lets them by)."""
        try:
            block.decode("utf-8")
            return block
        except UnicodeDecodeError:
            pass
        lines = block.split(b"\n")
        for i, line in enumerate(lines):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = line.decode("utf-8", errors="replace").strip()
                self.bad.append(
                    BadRecord(
                        row=-1,
                        field=None,
                        error=f"not UTF-8 (byte {exc.start})",
                        record={"text": text[:1000]},
                        line=first_line + i,
                    )
                )
                lines[i] = b""
        return b"\n".join(lines)

    def _parse_json_block(
        self, block: bytes, first_line: int, schema: pa.Schema | None
    ) -> pa.Table | None:
        options = pjson.ParseOptions(
            explicit_schema=schema,
            unexpected_field_behavior="infer" if schema is None else "error",
        )
        try:
            table = pjson.read_json(io.BytesIO(block), parse_options=options)
        except pa.ArrowInvalid as exc:
            lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            if lines <= 1:
                self.bad.append(_bad_json_line(block, first_line, schema, str(exc)))
                return None
            # bisect at a line boundary
            mid = _nth_newline(block, lines // 2)
            left = self._parse_json_block(block[:mid], first_line, schema)
            schema = schema if schema is not None else (left.schema if left is not None else None)
            right = self._parse_json_block(
                block[mid:], first_line + block[:mid].count(b"\n"), schema
            )
            parts = [t for t in (left, right) if t is not None and t.num_rows]
            if not parts:
                return None
            return pa.concat_tables(parts, promote_options="permissive")
        if schema is not None:
            table = table.select(schema.names).cast(schema)
        return table


DETECTED = ("utf-8", "gb18030")
"""What ``--encoding`` detects, in order: UTF-8 (a BOM is skipped), else GB18030, the national
standard that contains GBK and GB2312 (what Excel writes in China)."""


def csv_encoding(sample: bytes, given: str | None, file: str) -> str:
    """The encoding of a CSV whose first whole lines are ``sample``: ``given``, checked to be a
    known codec, or detected (:data:`DETECTED`). Undecodable input is bad input, named.

    >>> csv_encoding("名字\\n北京\\n".encode("gbk"), None, "x.csv")
    'gb18030'
    >>> csv_encoding(b"\\xef\\xbb\\xbfvin\\n", None, "x.csv")
    'utf-8'
    """
    if given is not None:
        try:
            name = codecs.lookup(given).name
        except LookupError:
            raise BadInput(
                f"unknown encoding {given!r} (utf-8, gb18030, gbk …)", file=file
            ) from None
        try:
            sample.decode(name)
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"not {given} (byte {exc.start} of the file); the detected encoding is "
                f"{_detect(sample) or 'none of ' + ', '.join(DETECTED)}",
                file=file,
            ) from None
        return "utf-8" if name in ("utf-8", "utf-8-sig") else name
    found = _detect(sample)
    if found is None:
        raise BadInput(
            "the CSV is neither UTF-8 nor GB18030/GBK; give its encoding with --encoding",
            file=file,
        )
    return found


def _detect(sample: bytes) -> str | None:
    for name in DETECTED:
        try:
            sample.decode(name)
        except UnicodeDecodeError:
            continue
        return name
    return None


def _nth_newline(block: bytes, n: int) -> int:
    """Offset just after the n-th newline of ``block``."""
    arr = np.frombuffer(block, dtype=np.uint8)
    positions = np.flatnonzero(arr == 10)
    return int(positions[n - 1]) + 1


def _bad_json_line(
    line: bytes, number: int, schema: pa.Schema | None, arrow_error: str
) -> BadRecord:
    text = line.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return BadRecord(
            row=-1,
            field=None,
            error=f"not JSON: {exc.msg} at column {exc.colno}",
            record={"text": text[:1000]},
            line=number,
        )
    if not isinstance(value, dict):
        return BadRecord(
            row=-1, field=None, error="not a JSON object", record={"text": text[:1000]}, line=number
        )
    field_name = None
    error = arrow_error.split("\n")[0]
    if schema is not None:
        unknown = [k for k in value if k not in schema.names]
        if unknown:
            field_name = unknown[0]
            error = "field not in the schema of the first block (unknown field)"
        else:
            for name in schema.names:
                if name in value and value[name] is not None:
                    try:
                        pa.array([value[name]]).cast(schema.field(name).type)
                    except (
                        pa.ArrowInvalid,
                        pa.ArrowTypeError,
                        pa.ArrowNotImplementedError,
                        OverflowError,
                    ):
                        field_name = name
                        error = (
                            f"expected {schema.field(name).type}, got {type(value[name]).__name__}"
                        )
                        break
    return BadRecord(row=-1, field=field_name, error=error, record=value, line=number)


def _convert_csv(
    batch: pa.RecordBatch, types: dict[str, pa.DataType], rows: np.ndarray
) -> tuple[pa.RecordBatch, np.ndarray, list[BadRecord]]:
    """Convert text columns to their inferred types; values that do not convert are bad rows."""
    n = batch.num_rows
    bad_field = np.full(n, -1, dtype=np.int32)
    arrays = []
    names = batch.schema.names
    for i, name in enumerate(names):
        column = batch.column(i)
        target = types[name]
        if pa.types.is_string(target) or pa.types.is_null(target):
            arrays.append(column)
            continue
        kind = (
            "int"
            if pa.types.is_integer(target)
            else "float"
            if pa.types.is_floating(target)
            else "bool"
            if pa.types.is_boolean(target)
            else None
        )
        present = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
        if kind is not None:
            looks = np.asarray(
                pc.fill_null(pc.match_substring_regex(column, _PATTERNS[kind]), False).to_numpy(
                    zero_copy_only=False
                ),
                dtype=bool,
            )
            candidates = pc.if_else(
                pa.array(looks), pc.utf8_trim_whitespace(column), pa.scalar(None, pa.string())
            )
            converted, failed = cast_isolating(candidates, target)
            failed |= present & ~looks
        else:
            converted, failed = cast_isolating(column, target)
        fresh = failed & (bad_field < 0)
        bad_field[fresh] = i
        arrays.append(converted)
    out = pa.RecordBatch.from_arrays(arrays, names=names)
    if not (bad_field >= 0).any():
        return out, np.ones(n, dtype=bool), []
    idx = np.flatnonzero(bad_field >= 0)
    raw = batch.take(pa.array(idx)).to_pylist()
    bad = [
        BadRecord(
            row=int(rows[i]),
            field=names[bad_field[i]],
            error=f"expected {types[names[bad_field[i]]]}, got {raw[k][names[bad_field[i]]]!r}",
            record=raw[k],
        )
        for k, i in enumerate(idx)
    ]
    keep = np.ones(n, dtype=bool)
    keep[idx] = False
    return out.filter(pa.array(keep)), keep, bad


def open_source(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    batch_rows: int = 65_536,
    block_bytes: int | None = None,
    sample_bytes: int = 1 << 20,
    max_bytes: int | None = None,
    encoding: str | None = None,
) -> Source:
    """Open an input for streaming; the format comes from ``fmt`` or the extension.

    ``max_bytes`` bounds what the input may decode to (:class:`~onshore.io.guard.TooLarge`).
    ``encoding`` is a CSV's text encoding; ``None`` detects it (:func:`csv_encoding`). JSON
    lines are UTF-8 (RFC 8259) and Parquet says its own."""
    p = Path(path)
    if not p.exists():
        raise BadInput("no such file", file=str(p))
    if p.is_dir():
        raise BadInput("is a directory; give a file", file=str(p))
    return Source(
        p,
        detect_format(p, fmt),
        batch_rows=batch_rows,
        block_bytes=block_bytes,
        sample_bytes=sample_bytes,
        max_bytes=max_bytes,
        encoding=encoding,
    )
