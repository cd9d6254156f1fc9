"""``onshore gbt32960``: GB/T 32960.3 frames to JSON lines."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from onshore.gbt32960 import Frame, FrameError, RealTimeReport, iter_frames
from onshore.gbt32960.arrow import frame_row, frames_to_arrow
from onshore.gbt32960.values import beijing_to_utc
from onshore.io.readers import detect_format
from onshore.io.writers import TableWriter
from onshore.jsonenc import to_jsonable

_HEX_LINE = re.compile(rb"^(?:0x)?[0-9A-Fa-f\s]*$")


def frame_json(frame: Frame, offset: int, line: int | None = None) -> dict[str, Any]:
    """The JSON object of one decoded frame (real-time frames as their canonical row)."""
    out: dict[str, Any] = {"offset": offset}
    if line is not None:
        out["line"] = line
    out |= {
        "edition": int(frame.edition),
        "command": frame.command,
        "response": frame.response,
        "vin": frame.vin,
        "encryption": frame.encryption,
        "bcc_ok": frame.bcc_ok,
        "type": type(frame.payload).__name__,
    }
    if isinstance(frame.payload, RealTimeReport):
        out["record"] = to_jsonable(frame_row(frame))
    else:
        payload = dataclasses.asdict(frame.payload)
        time = payload.get("time")
        if isinstance(time, datetime):
            payload["time_utc"] = beijing_to_utc(time)
        out["payload"] = to_jsonable(payload)
    return out


def _chunks(raw: bytes) -> Iterator[tuple[int | None, bytes]]:
    """``(line, bytes)``: hex text line by line, or the whole binary stream (line ``None``)."""
    lines = raw.splitlines()
    is_hex = bool(raw.strip()) and all(_HEX_LINE.match(line) for line in lines)
    if not is_hex:
        yield None, raw
        return
    for number, line in enumerate(lines, start=1):
        text = re.sub(rb"0x|\s", b"", line)
        if not text:
            continue
        if len(text) % 2:
            text += b"0"  # an odd digit count is a truncated frame: decoding says so
        yield number, bytes.fromhex(text.decode("ascii"))


@click.group("gbt32960")
def gbt32960() -> None:
    """GB/T 32960.3 (EV remote monitoring) frames, editions 2016 and 2025."""


@gbt32960.command("decode")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--lenient-bcc",
    is_flag=True,
    help="Decode frames whose check code is wrong, flagged bcc_ok=false.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Decode past rejected frames: each becomes an error line on stderr; exit 0.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the real-time frames' canonical telemetry rows to this .jsonl, .csv or "
    ".parquet file (the input `store put` and `scan` take) instead of JSON lines on stdout.",
)
def decode(file: Path, lenient_bcc: bool, keep_going: bool, out: Path | None) -> None:
    """Decode FILE (binary stream, or hex text with one or more frames per line; '-' reads
    stdin) into JSON lines on stdout, one per frame.

    Real-time frames (0x02, 0x03) print their canonical telemetry row under "record" (vin, ts
    in UTC, lat, lon, VSS signals, gbt32960.* fields; abnormal/invalid values are null and
    named in gbt32960.abnormal / gbt32960.invalid). Other frames print their payload.

    Without --keep-going the first rejected frame stops decoding with exit status 2 and a
    message naming the file, the byte offset and the field. With --keep-going every rejected
    frame becomes a JSON line on stderr, {"error", "file", "line", "offset", "field"}, and the
    exit status is 0. Offsets count bytes from the start of the file (binary) or of the line.

    With --out the rows of the real-time frames (the "record" objects above, one per frame,
    positions named WGS-84 or GCJ-02 in "crs") go to a file of that format instead, ready for
    `onshore store put` or `onshore scan`; a summary line goes to stderr.

    \b
    Example:
      onshore gbt32960 decode frames.txt --keep-going > frames.jsonl 2> rejected.jsonl
      onshore gbt32960 decode frames.txt --keep-going --out records.parquet 2> rejected.jsonl
      onshore store put records.parquet --dataset gbt32960
    """
    if out is not None:
        detect_format(out)  # a bad extension fails before any decoding
    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    rejected = 0
    frames: list[Frame] = []
    for line, chunk in _chunks(raw):
        for offset, item in iter_frames(chunk, lenient_bcc=lenient_bcc):
            if isinstance(item, FrameError):
                rejected += 1
                item.file = str(file)
                if not keep_going:
                    where = f"line {line}, " if line is not None else ""
                    raise FrameError(
                        f"{where}{item.reason}",
                        offset=item.offset,
                        field=item.field or "",
                        file=str(file),
                    )
                error = {"error": item.reason, "file": str(file), "line": line}
                error |= {"offset": item.offset, "field": item.field}
                click.echo(json.dumps(error, ensure_ascii=False), err=True)
                continue
            if out is not None:
                frames.append(item)
                continue
            obj = frame_json(item, offset, line)
            click.echo(json.dumps(obj, ensure_ascii=False))
    if out is not None:
        table = frames_to_arrow(frames)
        writer = TableWriter(out)
        try:
            for batch in table.to_batches():
                writer.write(batch)
            writer.close(table.schema)
        except BaseException:
            writer.abort()
            raise
        click.echo(
            f"wrote {table.num_rows} row(s) of {len(frames)} decoded frame(s) "
            f"(real-time reports and re-sends) to {out}; {rejected} frame(s) rejected",
            err=True,
        )
    elif rejected and keep_going and sys.stderr.isatty():
        click.echo(f"{rejected} frame(s) rejected", err=True)
