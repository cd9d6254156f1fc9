"""Peak memory of `onshore scan --json` at two input sizes, for Parquet, CSV and JSON lines.

A larger-than-memory input is fine only if memory is bounded by the batch or row group, not by
the file. Each input is the demo fleet's telemetry repeated to the size asked for (Parquet in
row groups of 131,072 rows, as `onshore demo-data` writes them); each scan runs as its own
process and its peak resident set comes from GNU time (``/usr/bin/time``). Same run, same
machine.

    .venv/bin/python bench/memory.py                          # 5 M and 20 M rows, all formats
    .venv/bin/python bench/memory.py --rows 2000000 8000000 --formats parquet csv

Goal (issue 21): the larger input needs no more than the smaller plus a few percent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


def onshore_exe() -> str:
    exe = Path(sys.executable).with_name("onshore")
    return str(exe) if exe.exists() else "onshore"


def base_table(folder: Path) -> pa.Table:
    telemetry = folder / "telemetry.parquet"
    if not telemetry.exists():
        subprocess.run(
            [onshore_exe(), "demo-data", str(folder), "--vehicles", "400", "--days", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return pq.read_table(telemetry)


def pieces(table: pa.Table, rows: int, step: int = 500_000) -> list[pa.Table]:
    """``rows`` rows of ``table`` repeated, in slices of at most ``step`` rows."""
    out, left = [], rows
    while left > 0:
        for start in range(0, table.num_rows, step):
            take = min(step, table.num_rows - start, left)
            if take <= 0:
                break
            out.append(table.slice(start, take))
            left -= take
    return out


def write_input(table: pa.Table, rows: int, fmt: str, path: Path) -> None:
    if path.exists():
        return
    tmp = path.with_name(path.name + ".partial")
    if fmt == "parquet":
        with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
            for piece in pieces(table, rows):
                writer.write_table(piece, row_group_size=131_072)
    elif fmt == "csv":
        with pcsv.CSVWriter(tmp, table.schema) as writer:
            for piece in pieces(table, rows):
                writer.write_table(piece)
    else:
        with open(tmp, "w", encoding="utf-8") as fh:
            for piece in pieces(table, rows):
                frame = piece.to_pandas()
                frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
                fh.write(frame.to_json(orient="records", lines=True))
                fh.write("\n")
    os.replace(tmp, path)


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Peak resident set (MB) and wall time (s) of one process.

    Measured by ``/usr/bin/time`` (GNU time), whose child starts from a small process: the
    kernel's figure for a child of this one would include this process's own pages (a spawned
    child's high-water mark starts from its parent's memory)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
        return int(report.read().split()[-1]) / 1024, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs=2, default=[5_000_000, 20_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv", "jsonl"])
    parser.add_argument("--dir", type=Path, default=Path("bench-data") / "memory")
    parser.add_argument("--clean", action="store_true", help="Delete the inputs afterwards.")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    table = base_table(args.dir / "fleet")
    small, large = sorted(args.rows)
    print(f"cpus: {os.cpu_count()}   load average: {os.getloadavg()[0]:.1f}")
    print(
        f"{'format':<9}{'rows':>12}{'input (MB)':>12}{'peak RSS (MB)':>15}{'seconds':>9}"
        f"{'large / small':>15}"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            peaks = []
            for rows in (small, large):
                path = args.dir / f"telemetry-{rows}{SUFFIX[fmt]}"
                write_input(table, rows, fmt, path)
                rss, seconds = peak_rss(
                    [
                        *[onshore_exe(), "scan", str(path), "--json"],
                        *["--quarantine", str(Path(tmp) / "q.jsonl")],
                    ]
                )
                peaks.append(rss)
                size = path.stat().st_size / 1e6
                ratio = f"{rss / peaks[0]:.3f}" if rows == large else ""
                print(f"{fmt:<9}{rows:>12,}{size:>12,.0f}{rss:>15,.0f}{seconds:>9.1f}{ratio:>15}")
                if args.clean:
                    path.unlink()
            worst = max(worst, peaks[1] / peaks[0])
    print(f"largest growth, {large:,} rows against {small:,}: {100 * (worst - 1):+.1f}%")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
