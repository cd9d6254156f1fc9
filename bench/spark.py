"""Spark benchmark: ``onshore scan`` (or ``onshore desensitize``) on Spark local[1] and local[2]
against the embedded engine.

The same demo fleet (``onshore demo-data``) is classified three ways, each writing the labelled
rows as Parquet and computing the exact assessment:

* embedded: one process streaming ``telemetry.parquet`` (what ``onshore scan`` does);
* Spark local[1] and local[2]: the same rows split into a folder of Parquet files (a small
  "lake"), read by Spark and classified by the core inside ``mapInArrow``.

Session start-up is reported apart; a small warm-up job runs before each timed Spark run, so the
figures show the steady cost of the adapter (Arrow hand-off to Python workers, the tagged
output, the cache, the distinct-count shuffle) and how it scales with cores.

    .venv/bin/python bench/spark.py                       # 50 vehicles, 1 day (~190 k rows)
    .venv/bin/python bench/spark.py --vehicles 200        # ~770 k rows
    .venv/bin/python bench/spark.py --desensitize export-default   # desensitization instead

With ``--desensitize PROFILE`` each engine desensitizes the same rows (embedded: the streaming
``Desensitizer`` writing one Parquet file, as ``onshore desensitize`` does; Spark: the core
Desensitizer in ``mapInArrow``, the partitions' figures merged on the driver, a Parquet folder)
and the risk reports are compared.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from onshore.cli.scan import load_index, scan_file
from onshore.desensitize import Desensitizer, RiskReport
from onshore.io import TableWriter, open_source
from onshore.keystore import Key
from onshore.model import Assessment
from onshore.packs import Pack, load_pack

KEY = Key("hmac-sha256", "0123456789abcdef", bytes(range(32)))


def make_data(root: Path, vehicles: int, days: int, files: int) -> tuple[Path, Path, Path, int]:
    """Demo data in ``root``; the telemetry also split into ``files`` Parquet files."""
    demo = root / "demo"
    if not (demo / "telemetry.parquet").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "onshore",
                "demo-data",
                str(demo),
                "--vehicles",
                str(vehicles),
                "--days",
                str(days),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    table = pq.read_table(demo / "telemetry.parquet")
    lake = root / "lake"
    lake.mkdir(exist_ok=True)
    step = -(-table.num_rows // files)
    for k in range(files):
        pq.write_table(table.slice(k * step, step), lake / f"part-{k:03d}.parquet")
    return demo / "telemetry.parquet", lake, demo / "areas.geojson", table.num_rows


def run_spark(
    master: str, lake: Path, areas: Path, out: Path
) -> tuple[float, float, float, Assessment]:
    """Start a session on ``master``; scan the folder twice (cold workers, then warm)."""
    from onshore.spark import spark_session
    from onshore.spark.scan import scan_path

    t0 = time.perf_counter()
    spark = spark_session(
        master,
        app_name="onshore-bench",
        conf={"spark.sql.shuffle.partitions": "4", "spark.ui.showConsoleProgress": "false"},
    )
    startup = time.perf_counter() - t0
    pack = load_pack()
    index = load_index(str(areas), pack)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        assessment, _ = scan_path(lake, pack, index, out=out, master=None)
        times.append(time.perf_counter() - t0)
    spark.stop()
    return startup, times[0], times[1], assessment


def embedded_desensitize(
    telemetry: Path, pack: Pack, profile: str, areas: Path, out: Path
) -> RiskReport:
    """What ``onshore desensitize`` does: stream the file through one Desensitizer."""
    from onshore.geo import load_areas

    catalogue = load_areas(str(areas), kinds=pack.area_buffers())
    runner = Desensitizer(pack.profile(profile), pack, key=KEY, areas=catalogue)
    writer = TableWriter(out)
    for batch, rows in open_source(telemetry).batches():
        for released in runner.push(batch, rows=rows):
            writer.write(released)
    for released in runner.finish():
        writer.write(released)
    writer.close()
    return runner.report()


def spark_desensitize(
    master: str, lake: Path, profile: str, areas: Path, out: Path
) -> tuple[float, float, float, RiskReport]:
    """Start a session on ``master``; desensitize the folder twice (cold workers, then warm)."""
    from onshore.geo import load_areas
    from onshore.spark import spark_session
    from onshore.spark.desensitize import desensitize_path

    t0 = time.perf_counter()
    spark = spark_session(
        master,
        app_name="onshore-bench",
        conf={"spark.sql.shuffle.partitions": "4", "spark.ui.showConsoleProgress": "false"},
    )
    startup = time.perf_counter() - t0
    pack = load_pack()
    catalogue = load_areas(str(areas), kinds=pack.area_buffers())
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        report, _, _ = desensitize_path(
            lake, pack.profile(profile), pack, out=out, key=KEY, areas=catalogue
        )
        times.append(time.perf_counter() - t0)
    spark.stop()
    return startup, times[0], times[1], report


def _figures(report: RiskReport) -> dict[str, Any]:
    data = report.to_dict()
    data["risk"]["classification"]["after_assessment"].pop("source")
    return data


def main_desensitize(args: argparse.Namespace, root: Path) -> None:
    telemetry, lake, areas, rows = make_data(root, args.vehicles, args.days, args.files)
    print(f"{rows:,} telemetry rows ({args.vehicles} vehicles, {args.days} day(s)); ", end="")
    print(f"Spark reads them as {args.files} Parquet files; profile {args.desensitize}")
    pack = load_pack()
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        embedded = embedded_desensitize(
            telemetry, pack, args.desensitize, areas, root / "embedded-d.parquet"
        )
        times.append(time.perf_counter() - t0)
    base = times[1]
    results: list[tuple[str, float, float, float, RiskReport]] = [
        ("embedded (1 process)", 0.0, times[0], times[1], embedded)
    ]
    for master in ("local[1]", "local[2]"):
        out = root / f"spark-d-{master[6]}"
        results.append(
            (f"spark {master}", *spark_desensitize(master, lake, args.desensitize, areas, out))
        )
    print(f"\n{'engine':<22}{'start s':>8}{'cold s':>8}{'warm s':>8}{'rows/s':>10}{'vs emb.':>9}")
    for name, startup, cold, warm, _ in results:
        start = f"{startup:.1f}" if startup else "-"
        print(
            f"{name:<22}{start:>8}{cold:>8.2f}{warm:>8.2f}{rows / warm:>10,.0f}{base / warm:>8.2f}x"
        )
    same = all(_figures(r) == _figures(embedded) for *_, r in results)
    print(
        f"\nsame risk report on every engine: {same} "
        f"({embedded.rows_in:,} rows in, {embedded.rows_out:,} out, promise kept: "
        f"{embedded.promise.kept})"
    )
    print(
        "cold: first run (Python workers start, import Onshore, load the numba kernels); "
        "warm: the second; rows/s (input rows) and the ratio use warm"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--files", type=int, default=8, help="Parquet files in the Spark lake")
    parser.add_argument("--dir", type=Path, help="Work folder (default: a temporary one)")
    parser.add_argument(
        "--desensitize", metavar="PROFILE", help="Benchmark desensitization with this profile"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onshore-bench-spark-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if args.desensitize:
            main_desensitize(args, root)
            return
        telemetry, lake, areas, rows = make_data(root, args.vehicles, args.days, args.files)
        print(f"{rows:,} telemetry rows ({args.vehicles} vehicles, {args.days} day(s)); ", end="")
        print(f"Spark reads them as {args.files} Parquet files")

        pack = load_pack()
        index = load_index(str(areas), pack)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            embedded, _ = scan_file(
                telemetry, pack, index, out=root / "embedded.parquet", quarantine=root / "q.jsonl"
            )
            times.append(time.perf_counter() - t0)
        base = times[1]
        results = [("embedded (1 process)", 0.0, times[0], times[1], embedded)]
        for master in ("local[1]", "local[2]"):
            out = root / f"spark-{master[6]}"
            results.append((f"spark {master}", *run_spark(master, lake, areas, out)))

        print(
            f"\n{'engine':<22}{'start s':>8}{'cold s':>8}{'warm s':>8}{'rows/s':>10}{'vs emb.':>9}"
        )
        for name, startup, cold, warm, _ in results:
            start = f"{startup:.1f}" if startup else "-"
            print(
                f"{name:<22}{start:>8}{cold:>8.2f}{warm:>8.2f}{rows / warm:>10,.0f}"
                f"{base / warm:>8.2f}x"
            )
        figures = [
            (a.level, a.rows, a.distinct_subjects, a.rows_per_level, a.areas_hit)
            for *_, a in results
        ]
        print(
            f"\nsame assessment on every engine: {len(set(map(repr, figures))) == 1} "
            f"(level {embedded.level.label}, {embedded.distinct_subjects} subjects)"
        )
        print(
            "cold: first scan (Python workers start, import Onshore, load the numba kernels); "
            "warm: the second; rows/s and the ratio use warm"
        )


if __name__ == "__main__":
    main()
