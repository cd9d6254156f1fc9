"""Input that is hostile or broken: decoded-size budgets, out-of-range times, bad column names.

A compressed body can decode to thousands of times its size (a "decompression bomb"): 25 KB of
zstd-compressed Arrow IPC holds 512 MB of zeros, and a Parquet column of one dictionary value
repeated by run-length encoding decodes to any size at all. A :class:`Budget` bounds what a body
may decode to, and it is checked *before* the memory is taken wherever the format declares it:

* Arrow IPC (:func:`check_ipc`): every record and dictionary batch's buffers, from the message
  metadata and, for compressed buffers, the uncompressed length each buffer starts with, all
  summed before a batch is read (the file format's footer blocks are followed as its reader
  does, so a block listed twice counts twice).
* Parquet (:func:`check_parquet`): the page headers of every column chunk (uncompressed page
  sizes and value counts, which the file's own metadata might understate); dictionary-encoded
  text is read as dictionaries and charged at its expanded size before it is expanded.
* Every batch, whatever the format: its logical size (:func:`logical_nbytes`, dictionaries and
  string views counted as expanded) is charged as it is read.

Past the budget the read stops with :class:`TooLarge`. Out-of-range times
(:mod:`onshore.times`) are bad records of their field (:func:`drop_bad_times`), and column names
must be present and unique (:func:`check_names`).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from onshore.errors import BadInput
from onshore.model import BadRecord
from onshore.times import holds_time, out_of_range, range_text


class TooLarge(BadInput):
    """The input decodes to more than the budget allows."""

    def __init__(self, message: str, *, limit: int, file: str | None = None) -> None:
        super().__init__(message, file=file)
        self.limit = limit


class Budget:
    """Bytes an input may decode to; :meth:`charge` raises :class:`TooLarge` past them."""

    def __init__(self, limit: int, what: str = "the input") -> None:
        self.limit = limit
        self.used = 0
        self.what = what

    def charge(self, nbytes: int, file: str | None = None) -> None:
        self.used += max(0, int(nbytes))
        if self.used > self.limit:
            raise TooLarge(
                f"{self.what} decodes to more than {self.limit:,} bytes (a compressed or "
                "encoded body is bounded by what it decodes to)",
                limit=self.limit,
                file=file,
            )


# -- logical size ------------------------------------------------------------------------------
_BINARY = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_binary,
    pa.types.is_large_binary,
)


def _is_binary(t: pa.DataType) -> bool:
    return any(check(t) for check in _BINARY)


def _is_view(t: pa.DataType) -> bool:
    return bool(pa.types.is_string_view(t) or pa.types.is_binary_view(t))


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)


def _value_lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of each value of a binary-like array (0 for nulls)."""
    if _is_view(arr.type):
        views = arr.buffers()[1]
        if views is None or len(arr) == 0:
            return np.zeros(len(arr), dtype=np.int64)
        raw = np.frombuffer(views, dtype=np.int32).reshape(-1, 4)
        lengths = raw[arr.offset : arr.offset + len(arr), 0].astype(np.int64)
    else:
        lengths = np.asarray(
            pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False), dtype=np.int64
        )
    return np.where(_valid(arr), np.maximum(lengths, 0), 0)


def _width(t: pa.DataType) -> int:
    try:
        return max(1, int(t.bit_width) // 8)
    except ValueError:
        return 8


def logical_nbytes(data: pa.Array | pa.ChunkedArray | pa.RecordBatch | pa.Table) -> int:
    """What ``data`` takes with every value materialised (dictionaries and views expanded)."""
    if isinstance(data, pa.RecordBatch | pa.Table):
        return sum(logical_nbytes(column) for column in data.columns)
    if isinstance(data, pa.ChunkedArray):
        return sum(logical_nbytes(chunk) for chunk in data.chunks)
    arr, t, n = data, data.type, len(data)
    if pa.types.is_dictionary(t):
        dictionary = arr.dictionary
        indices = arr.indices
        valid = _valid(indices)
        idx = indices.to_numpy(zero_copy_only=False)[valid].astype(np.int64)
        if _is_binary(dictionary.type) or _is_view(dictionary.type):
            per_value = _value_lengths(dictionary)
        else:
            size = logical_nbytes(dictionary)
            per_value = np.full(len(dictionary), size // max(1, len(dictionary)) + 1)
        idx = idx[(idx >= 0) & (idx < len(per_value))]
        return 8 * n + int(per_value[idx].sum())
    if _is_binary(t) or _is_view(t):
        return 8 * n + int(_value_lengths(arr).sum())
    if pa.types.is_null(t) or pa.types.is_boolean(t):
        return n
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return 8 * n + logical_nbytes(pc.list_flatten(arr))
    if pa.types.is_struct(t):
        return n + sum(logical_nbytes(child) for child in arr.flatten())
    if pa.types.is_map(t):
        keys, items = arr.keys, arr.items
        return 8 * n + logical_nbytes(keys) + logical_nbytes(items)
    if t.num_fields:  # unions, list views, run-end encoding: as they are, at least a word a row
        return max(8 * n, int(arr.get_total_buffer_size()))
    return n * _width(t)


# -- Arrow IPC ---------------------------------------------------------------------------------
class _Invalid(Exception):
    pass


class _Table:
    """A flatbuffers table: just enough to read Arrow's ``Message`` and ``Footer``."""

    def __init__(self, buf: Any, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - _unpack("<i", buf, pos)
        self.vtable_len = _unpack("<H", buf, self.vtable)

    def _offset(self, field: int) -> int:
        at = 4 + 2 * field
        return 0 if at >= self.vtable_len else int(_unpack("<H", self.buf, self.vtable + at))

    def scalar(self, field: int, fmt: str, default: int = 0) -> int:
        off = self._offset(field)
        return default if not off else int(_unpack(fmt, self.buf, self.pos + off))

    def table(self, field: int) -> _Table | None:
        off = self._offset(field)
        if not off:
            return None
        at = self.pos + off
        return _Table(self.buf, at + _unpack("<I", self.buf, at))

    def structs(self, field: int, fmt: str) -> list[tuple[int, ...]]:
        off = self._offset(field)
        if not off:
            return []
        at = self.pos + off
        start = at + _unpack("<I", self.buf, at)
        count = _unpack("<I", self.buf, start)
        size = struct.calcsize(fmt)
        if count * size > len(self.buf):
            raise _Invalid("vector longer than the message")
        return [struct.unpack_from(fmt, self.buf, start + 4 + i * size) for i in range(count)]


def _unpack(fmt: str, buf: Any, at: int) -> int:
    if at < 0:
        raise _Invalid("offset before the start")
    try:
        return int(struct.unpack_from(fmt, buf, at)[0])
    except struct.error:
        raise _Invalid("offset past the end") from None


_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2


def _declared(metadata: bytes, body: memoryview) -> int:
    """Bytes a record or dictionary batch message will take once read (buffers decompressed)."""
    message = _Table(metadata, _unpack("<I", metadata, 0))
    kind = message.scalar(1, "<B")
    header = message.table(2)
    if header is None or kind not in (_RECORD_BATCH, _DICTIONARY_BATCH):
        return 0
    batch = header if kind == _RECORD_BATCH else header.table(1)
    if batch is None:
        return 0
    compressed = batch.table(3) is not None
    rows = batch.scalar(0, "<q")
    nodes = batch.structs(1, "<qq")
    total = max(0, rows) // 8 + sum(max(0, length) // 8 for length, _nulls in nodes)
    for offset, length in batch.structs(2, "<qq"):
        if length <= 0:
            continue
        if not compressed:
            total += length
            continue
        if offset < 0 or offset + 8 > len(body):
            raise _Invalid("a buffer outside the message body")
        prefix = int.from_bytes(body[offset : offset + 8], "little", signed=True)
        total += length - 8 if prefix == -1 else max(prefix, 0)
    return total


def check_ipc(buf: pa.Buffer, file_format: bool, budget: Budget, file: str | None = None) -> None:
    """Charge what every batch of an Arrow IPC stream or file declares, reading none of them.

    ``BadInput`` when the body is not Arrow IPC as far as this reading goes; ``TooLarge`` once
    the declared sizes pass the budget.
    """
    view = memoryview(buf)
    try:
        if file_format:
            _check_ipc_file(view, budget, file)
            return
        reader = ipc.MessageReader.open_stream(buf)
        while True:
            try:
                message = reader.read_next_message()
            except StopIteration:
                return
            body = message.body
            budget.charge(
                _declared(
                    message.metadata.to_pybytes(),
                    memoryview(body) if body is not None else memoryview(b""),
                ),
                file,
            )
    except (_Invalid, pa.ArrowInvalid, OSError, ValueError) as exc:
        raise BadInput(f"not an Arrow IPC {'file' if file_format else 'stream'}: {exc}") from None


def _check_ipc_file(data: memoryview, budget: Budget, file: str | None) -> None:
    size = len(data)
    if size < 18 or bytes(data[-6:]) != b"ARROW1":
        raise _Invalid("no ARROW1 trailer")
    footer_len = _unpack("<i", data, size - 10)
    start = size - 10 - footer_len
    if footer_len <= 0 or start < 8:
        raise _Invalid("bad footer length")
    footer = bytes(data[start : size - 10])
    root = _Table(footer, _unpack("<I", footer, 0))
    blocks = root.structs(2, "<qi4xq") + root.structs(3, "<qi4xq")
    for offset, meta_len, body_len in blocks:
        if offset < 0 or meta_len < 8 or body_len < 0 or offset + meta_len + body_len > size:
            raise _Invalid("a block outside the file")
        at = offset
        if _unpack("<I", data, at) == 0xFFFFFFFF:
            at += 4
        flat_len = _unpack("<i", data, at)
        if flat_len <= 0 or at + 4 + flat_len > offset + meta_len:
            raise _Invalid("bad message length")
        metadata = bytes(data[at + 4 : at + 4 + flat_len])
        body = data[offset + meta_len : offset + meta_len + body_len]
        budget.charge(_declared(metadata, body), file)


# -- Parquet -----------------------------------------------------------------------------------
_PHYSICAL_WIDTH = {
    "BOOLEAN": 1,
    "INT32": 4,
    "INT64": 8,
    "INT96": 12,
    "FLOAT": 4,
    "DOUBLE": 8,
    "BYTE_ARRAY": 4,
}


class _Compact:
    """A Thrift compact-protocol reader, for Parquet page headers."""

    def __init__(self, data: Any, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise _Invalid("page header runs past its column chunk")
        value = int(self.data[self.pos])
        self.pos += 1
        return value

    def varint(self) -> int:
        result = shift = 0
        for _ in range(10):
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
        raise _Invalid("varint too long")

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def skip(self, kind: int, depth: int) -> None:
        if depth > 32:
            raise _Invalid("page header nested too deep")
        if kind in (1, 2):  # booleans in a field header
            return
        if kind == 3:
            self.pos += 1
        elif kind in (4, 5, 6):
            self.varint()
        elif kind == 7:
            self.pos += 8
        elif kind == 8:
            length = self.varint()  # (not ``self.pos += self.varint()``: that loses the varint)
            self.pos += length
        elif kind in (9, 10):
            head = self.byte()
            count, inner = head >> 4, head & 0x0F
            if count == 15:
                count = self.varint()
            for _ in range(count):
                if inner in (1, 2):
                    self.pos += 1
                else:
                    self.skip(inner, depth + 1)
        elif kind == 11:
            count = self.varint()
            if count:
                types = self.byte()
                for _ in range(count):
                    self.skip(types >> 4, depth + 1)
                    self.skip(types & 0x0F, depth + 1)
        elif kind == 12:
            self.fields(set(), depth + 1)
        else:
            raise _Invalid(f"unknown thrift type {kind}")
        if self.pos > self.end:
            raise _Invalid("page header runs past the end of the file")

    def fields(self, wanted: set[int], depth: int = 0) -> dict[int, Any]:
        """A struct's integer fields in ``wanted`` (and its nested structs' first fields)."""
        out: dict[int, Any] = {}
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return out
            delta, kind = head >> 4, head & 0x0F
            last = last + delta if delta else self.zigzag()
            if last in wanted and kind in (5, 6):
                out[last] = self.zigzag()
            elif last in wanted and kind == 12:
                out[last] = self.fields({1}, depth + 1)
            else:
                self.skip(kind, depth)


def _chunk_pages(data: Any, start: int, length: int) -> tuple[int, int]:
    """(uncompressed bytes, values) of the pages of a column chunk, from their headers."""
    end = start + length
    if start < 0 or length < 0 or end > len(data):
        raise _Invalid("a column chunk outside the file")
    pos, uncompressed, values = start, 0, 0
    while pos < end:
        reader = _Compact(data, pos, len(data))
        header = reader.fields({2, 3, 5, 7, 8})
        raw, packed = header.get(2, -1), header.get(3, -1)
        if raw < 0 or packed < 0:
            raise _Invalid("a page header without sizes")
        uncompressed += raw
        for page in (5, 7, 8):
            values += max(0, int(header.get(page, {}).get(1, 0)))
        pos = reader.pos + packed
    return uncompressed, values


def check_parquet(path: Path, budget: Budget, file: str | None = None) -> None:
    """Charge every column chunk's decoded size, from its page headers, reading no page."""
    pf = pq.ParquetFile(path)
    meta = pf.metadata
    widths = []
    for i in range(meta.num_columns):
        column = pf.schema.column(i)
        width = _PHYSICAL_WIDTH.get(column.physical_type, 0) or max(1, column.length or 1)
        widths.append(width + 2)  # and the definition and repetition levels
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                for c in range(group.num_columns):
                    chunk = group.column(c)
                    if chunk.file_path:
                        raise BadInput("a column chunk in another file", file=file)
                    starts = [chunk.data_page_offset]
                    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                        starts.append(chunk.dictionary_page_offset)
                    raw, values = _chunk_pages(data, min(starts), chunk.total_compressed_size)
                    rows = max(values, group.num_rows, chunk.num_values)
                    budget.charge(max(raw, chunk.total_uncompressed_size) + rows * widths[c], file)
    except _Invalid as exc:
        raise BadInput(f"cannot read parquet: {exc}", file=file) from None


def binary_leaves(pf: pq.ParquetFile) -> list[str]:
    """Column paths of the text (BYTE_ARRAY) leaves: read as dictionaries, charged expanded."""
    return [c.path for c in pf.schema if c.physical_type == "BYTE_ARRAY"]


# -- times and names ---------------------------------------------------------------------------
def _safe(column: pa.Array) -> list[Any]:
    try:
        return list(column.to_pylist())
    except (OverflowError, ValueError):
        pass
    out: list[Any] = []
    for i in range(len(column)):
        try:
            out.append(column[i].as_py())
        except (OverflowError, ValueError):
            if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
                raw = column.view(pa.int64() if column.type.bit_width == 64 else pa.int32())
                out.append(f"{raw[i].as_py()} ({column.type})")
            else:
                out.append(f"(out of range {column.type})")
    return out


def drop_bad_times(
    batch: pa.RecordBatch, rows: np.ndarray
) -> tuple[pa.RecordBatch, np.ndarray, list[BadRecord]]:
    """Rows holding a time outside :mod:`onshore.times`' range, as bad records of that field."""
    timed = [i for i, f in enumerate(batch.schema) if holds_time(f.type)]
    if not timed or batch.num_rows == 0:
        return batch, rows, []
    field_of = np.full(batch.num_rows, -1, dtype=np.int64)
    for i in timed:
        bad = out_of_range(batch.column(i))
        field_of[bad & (field_of < 0)] = i
    idx = np.flatnonzero(field_of >= 0)
    if not len(idx):
        return batch, rows, []
    taken = batch.take(pa.array(idx))
    names = batch.schema.names
    values = {name: _safe(taken.column(j)) for j, name in enumerate(names)}
    bad_records = [
        BadRecord(
            row=int(rows[i]),
            field=names[field_of[i]],
            error=f"time out of range ({range_text()})",
            record={name: values[name][k] for name in names},
        )
        for k, i in enumerate(idx)
    ]
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[idx] = False
    return batch.filter(pa.array(keep)), rows[keep], bad_records


def first_bad_time(table: pa.Table | pa.RecordBatch, file: str | None = None) -> None:
    """``BadInput`` naming the first record and field holding an out-of-range time."""
    for i, f in enumerate(table.schema):
        if not holds_time(f.type):
            continue
        bad = out_of_range(table.column(i))
        if bad.any():
            raise BadInput(
                f"time out of range ({range_text()})",
                file=file,
                record=int(np.argmax(bad)),
                field=f.name,
            )


def check_names(names: Sequence[str], file: str | None = None) -> None:
    """Every column has a name, and no two the same name."""
    seen: set[str] = set()
    for position, name in enumerate(names):
        if not name.strip():
            raise BadInput(f"column {position + 1} has no name", file=file)
        if name in seen:
            raise BadInput(f"column name {name!r} appears twice", file=file, field=name)
        seen.add(name)


_UNREAD = (pa.types.is_run_end_encoded, pa.types.is_list_view, pa.types.is_large_list_view)


def check_types(schema: pa.Schema, file: str | None = None) -> None:
    """Column types the readers do not take (run-end encoded, list views), at any depth."""

    def visit(name: str, t: pa.DataType) -> None:
        if any(check(t) for check in _UNREAD):
            raise BadInput(
                f"column {name!r} has type {t}, which is not read", file=file, field=name
            )
        if pa.types.is_dictionary(t):
            visit(name, t.value_type)
        for i in range(t.num_fields):
            visit(name, t.field(i).type)

    for f in schema:
        visit(f.name, f.type)
