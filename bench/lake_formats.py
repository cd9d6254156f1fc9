"""The plain Parquet lake against Apache Iceberg (pyiceberg, SQL catalog): write rate, erasure
cost, and whether erasure really removes the bytes.

Both get the same telemetry (``vin``, ``ts``, ``lat``, ``lon``, ``speed_kmh``, ``soc``), appended
in batches as an ingest worker commits them (``--batch-rows``, default 50,000 rows a batch):

* **onshore** is the lake as Onshore runs it: ``Lake.stage`` → ``add`` → ``commit`` per batch (a
  new uniquely named Parquet file per date, its ``lake_files`` rows inserted in one transaction
  of the SQLite metadata database: the commit point), on the local disk.
* **iceberg** is a pyiceberg table partitioned by ``day(ts)`` in a SQL catalog (SQLite, as the
  metadata database would hold it) with a ``file://`` warehouse: ``table.append`` per batch.

Then one vehicle is erased the way each must be for PIPL Art. 47 (the rows physically gone):

* onshore: every file holding the VIN is rewritten under a new name, the index row swapped, the
  old file deleted (``Lake.rewrite``, what ``onshore subject delete`` does for the lake);
* iceberg: ``table.delete(vin == V)`` (copy-on-write), then expire every snapshot but the
  current one, then remove the files no longer referenced (pyiceberg 0.12 has no
  ``remove_orphan_files``; the bench lists the table location and deletes what the current
  metadata does not reference: old data files, manifests, manifest lists, metadata JSON).

After each step every file under the table's folder is searched for the VIN (its bytes, and the
string cells of every Parquet file): ``files holding the VIN`` must end at 0.

Then ``--writers`` processes (3) append 10 batches each at once, to one lake (one SQLite
metadata file) or one table (one catalog row): rows/s, commits retried (pyiceberg's optimistic
commit re-reads and retries on a concurrent update) and appends that failed all the same.

Printed: rows/s appending, the first and last tenth's mean commit latency (does a commit get
slower as the table grows?), erasure seconds, files and bytes on disk, a full read, and the
ratio iceberg/onshore. Needs ``pip install 'pyiceberg[sql-sqlite,pyarrow,pyiceberg-core]'``
(not an Onshore dependency; ``pyiceberg-core`` computes the ``day(ts)`` partition). Figures
depend on the machine and its load: say which when quoting them.

    python bench/lake_formats.py [--batches 20] [--batch-rows 50000] [--vehicles 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def fleet(vehicles: int) -> list[str]:
    return [f"LBENCH{i:011d}" for i in range(vehicles)]


def batches(n: int, rows: int, vins: list[str], seed: int = 7) -> list[pa.Table]:
    """``n`` batches of ``rows`` rows at 1 Hz per vehicle, spanning two UTC dates."""
    rng = np.random.default_rng(seed)
    out = []
    per_second = len(vins)
    pool = pa.array(vins, pa.string())
    t0_ms = int((T0 + timedelta(hours=23, minutes=50)).timestamp() * 1000)
    for b in range(n):
        start = b * rows
        index = np.arange(start, start + rows)
        ts = t0_ms + (index // per_second) * 1000
        out.append(
            pa.table(
                {
                    "vin": pc.take(pool, pa.array(index % per_second)),
                    "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
                    "lat": 39.9 + rng.random(rows) * 0.1,
                    "lon": 116.4 + rng.random(rows) * 0.1,
                    "speed_kmh": rng.random(rows) * 120,
                    "soc": rng.random(rows) * 100,
                }
            )
        )
    return out


def vin_files(root: Path, vin: str) -> int:
    """Files under ``root`` holding ``vin``: its bytes anywhere, or a string cell of a Parquet."""
    needle = vin.encode()
    hits = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found = needle in data
        if not found and path.suffix == ".parquet":
            table = pq.read_table(pa.BufferReader(data))
            found = any(
                bool(pc.any(pc.equal(c, vin)).as_py())
                for c in table.columns
                if pa.types.is_string(c.type)
            )
        hits += found
    return hits


def disk(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run_onshore(data: list[pa.Table], vin: str, work: Path) -> dict[str, float]:
    from onshore.model import Level
    from onshore.store import DataHome, Lake

    home_path = work / "onshore"
    out: dict[str, float] = {}
    with DataHome(home_path, environ={"ONSHORE_JURISDICTION": "CN"}) as home:
        lake = Lake(home)
        lake_root = home.store().root
        commits = []
        started = time.perf_counter()
        for table in data:
            t = time.perf_counter()
            staged = lake.stage(
                "telemetry", store="local", origin="CN", vin_column="vin", ts_column="ts"
            )
            for batch in table.to_batches():
                staged.add(batch)
            staged.commit(level=Level.IMPORTANT, categories=())
            commits.append(time.perf_counter() - t)
        out["write_s"] = time.perf_counter() - started
        out["commit_first"], out["commit_last"] = _tenths(commits)
        out["files"], out["bytes"] = disk(lake_root)
        out["vin_files_before"] = vin_files(lake_root, vin)

        t = time.perf_counter()
        rows = sum(lake.read_table(home.store(f.store), f).num_rows for f in lake.files())
        out["read_s"] = time.perf_counter() - t
        assert rows == sum(d.num_rows for d in data), rows

        t = time.perf_counter()
        removed = 0
        for store, f in list(lake.all_files()):
            found = lake.read_vin(store, f, vin)
            if found is None or found.num_rows == 0:
                continue
            removed += lake.rewrite(
                store, f, lambda tb: pc.not_equal(tb.column("vin"), vin), action="bench"
            ).removed
        out["erase_s"] = time.perf_counter() - t
        out["erased_rows"] = removed
        out["vin_files_after_delete"] = out["vin_files_after"] = vin_files(lake_root, vin)
        out["files_after"], out["bytes_after"] = disk(lake_root)
    return out


def run_iceberg(data: list[pa.Table], vin: str, work: Path) -> dict[str, float]:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.expressions import EqualTo
    from pyiceberg.transforms import DayTransform

    # Iceberg has no millisecond timestamps (timestamptz is microseconds): cast before timing
    data = [d.set_column(1, "ts", d.column("ts").cast(pa.timestamp("us", tz="UTC"))) for d in data]
    warehouse = work / "iceberg"
    warehouse.mkdir()
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{work / 'catalog.db'}", warehouse=f"file://{warehouse}"
    )
    catalog.create_namespace("onshore")
    table = catalog.create_table("onshore.telemetry", schema=data[0].schema)
    with table.update_spec() as spec:
        spec.add_field("ts", DayTransform(), "ts_day")
    location = Path(table.location().removeprefix("file://"))
    out: dict[str, float] = {}
    commits = []
    started = time.perf_counter()
    for chunk in data:
        t = time.perf_counter()
        table.append(chunk)
        commits.append(time.perf_counter() - t)
    out["write_s"] = time.perf_counter() - started
    out["commit_first"], out["commit_last"] = _tenths(commits)
    out["files"], out["bytes"] = disk(location)
    out["vin_files_before"] = vin_files(location, vin)

    t = time.perf_counter()
    rows = table.scan().to_arrow().num_rows
    out["read_s"] = time.perf_counter() - t
    assert rows == sum(d.num_rows for d in data), rows

    t = time.perf_counter()
    before = table.scan(row_filter=EqualTo("vin", vin)).to_arrow().num_rows
    table.delete(EqualTo("vin", vin))
    out["delete_s"] = time.perf_counter() - t
    out["erased_rows"] = before
    out["vin_files_after_delete"] = vin_files(location, vin)

    t = time.perf_counter()
    table = catalog.load_table("onshore.telemetry")
    current = table.current_snapshot()
    assert current is not None
    old = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current.snapshot_id]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    table = catalog.load_table("onshore.telemetry")
    out["expire_s"] = time.perf_counter() - t
    out["vin_files_after_expire"] = vin_files(location, vin)

    t = time.perf_counter()
    keep = _referenced(table)
    for path in location.rglob("*"):
        if path.is_file() and str(path) not in keep:
            path.unlink()
    out["orphans_s"] = time.perf_counter() - t
    out["erase_s"] = out["delete_s"] + out["expire_s"] + out["orphans_s"]
    out["vin_files_after"] = vin_files(location, vin)
    out["files_after"], out["bytes_after"] = disk(location)
    assert table.scan().to_arrow().num_rows == rows - before
    return out


def _writer(kind: str, work: str, k: int, appends: int, rows: int, queue: Any) -> None:
    """One of several concurrent writers: ``appends`` batches; reports (ok, failed, retries)."""
    import logging

    retries = 0

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            nonlocal retries
            retries += "retrying" in record.getMessage()

    logging.getLogger().addHandler(Count())
    logging.getLogger().setLevel(logging.INFO)
    table = batches(1, rows, fleet(1000), seed=k)[0]
    ok = failed = 0
    if kind == "onshore":
        from onshore.model import Level
        from onshore.store import DataHome, Lake

        with DataHome(Path(work) / "home", environ={"ONSHORE_JURISDICTION": "CN"}) as home:
            lake = Lake(home)
            for _ in range(appends):
                try:
                    staged = lake.stage(
                        "telemetry", store="local", origin="CN", vin_column="vin", ts_column="ts"
                    )
                    for batch in table.to_batches():
                        staged.add(batch)
                    staged.commit(level=Level.IMPORTANT, categories=())
                    ok += 1
                except Exception:
                    failed += 1
    else:
        table = table.set_column(1, "ts", table.column("ts").cast(pa.timestamp("us", tz="UTC")))
        catalog = _catalog(Path(work))
        for _ in range(appends):
            try:
                catalog.load_table("onshore.telemetry").append(table)
                ok += 1
            except Exception:
                failed += 1
    queue.put((ok, failed, retries))


def _catalog(work: Path) -> Any:
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        "bench", uri=f"sqlite:///{work / 'catalog.db'}", warehouse=f"file://{work / 'iceberg'}"
    )


def run_concurrent(
    kind: str, writers: int, appends: int, rows: int, work: Path
) -> dict[str, float]:
    """``writers`` processes appending to one lake (one SQLite metadata file) or one table."""
    import multiprocessing

    folder = work / f"concurrent-{kind}"
    folder.mkdir()
    if kind == "iceberg":
        (folder / "iceberg").mkdir()
        catalog = _catalog(folder)
        catalog.create_namespace("onshore")
        schema = batches(1, 10, fleet(10))[0].schema
        schema = schema.set(1, pa.field("ts", pa.timestamp("us", tz="UTC")))
        catalog.create_table("onshore.telemetry", schema=schema)
    else:
        from onshore.store import DataHome

        with DataHome(folder / "home", environ={"ONSHORE_JURISDICTION": "CN"}) as home:
            home.store()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [
        context.Process(target=_writer, args=(kind, str(folder), k, appends, rows, queue))
        for k in range(writers)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    ok = sum(r[0] for r in results)
    return {
        "rows_per_s": ok * rows / elapsed,
        "failed": sum(r[1] for r in results),
        "retries": sum(r[2] for r in results),
    }


def _referenced(table: object) -> set[str]:
    """Every file the current metadata references: itself, the manifest lists of the snapshots
    it keeps, their manifests and data files."""
    io = table.io  # type: ignore[attr-defined]
    keep = {table.metadata_location.removeprefix("file://")}  # type: ignore[attr-defined]
    for snapshot in table.snapshots():  # type: ignore[attr-defined]
        keep.add(snapshot.manifest_list.removeprefix("file://"))
        for manifest in snapshot.manifests(io):
            keep.add(manifest.manifest_path.removeprefix("file://"))
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                keep.add(entry.data_file.file_path.removeprefix("file://"))
    return keep


def _tenths(values: list[float]) -> tuple[float, float]:
    k = max(1, len(values) // 10)
    return float(np.mean(values[:k])), float(np.mean(values[-k:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--vehicles", type=int, default=5_000)
    parser.add_argument("--writers", type=int, default=3, help="Concurrent writers (3).")
    parser.add_argument("--work", type=Path, default=None, help="Scratch folder (default: tmp).")
    args = parser.parse_args(argv)
    try:
        import pyiceberg
    except ImportError:
        extras = "sql-sqlite,pyarrow,pyiceberg-core"
        print(f"needs pyiceberg: pip install 'pyiceberg[{extras}]'", file=sys.stderr)
        return 2
    vins = fleet(args.vehicles)
    data = batches(args.batches, args.batch_rows, vins)
    target = vins[0]  # the lowest VIN: a bound in every column statistic that holds it
    total = args.batches * args.batch_rows
    work = Path(tempfile.mkdtemp(prefix="lake-formats-", dir=args.work))
    try:
        results = {
            "onshore": run_onshore(data, target, work),
            "iceberg": run_iceberg(data, target, work),
        }
        if args.writers > 1:
            for kind in results:
                results[kind].update(
                    {
                        f"concurrent_{k}": v
                        for k, v in run_concurrent(
                            kind, args.writers, 10, args.batch_rows // 5, work
                        ).items()
                    }
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.batches} batches x {args.batch_rows:,} rows ({total:,} rows), "
        f"{args.vehicles:,} vehicles, erase 1 vehicle; pyiceberg {pyiceberg.__version__}, "
        f"pyarrow {pa.__version__}, {os.cpu_count()} CPUs (check the load: uptime)"
    )
    rows = [
        ("append rows/s", lambda r: total / r["write_s"], "{:,.0f}"),
        ("commit s, first tenth", lambda r: r["commit_first"], "{:.3f}"),
        ("commit s, last tenth", lambda r: r["commit_last"], "{:.3f}"),
        ("files on disk", lambda r: r["files"], "{:,.0f}"),
        ("MB on disk", lambda r: r["bytes"] / 1e6, "{:,.1f}"),
        ("full read s", lambda r: r["read_s"], "{:.2f}"),
        ("erase 1 vehicle s (all steps)", lambda r: r["erase_s"], "{:.2f}"),
        ("rows erased", lambda r: r["erased_rows"], "{:,.0f}"),
        ("files with VIN before", lambda r: r["vin_files_before"], "{:,.0f}"),
        ("  after delete", lambda r: r["vin_files_after_delete"], "{:,.0f}"),
        (
            "  after expire",
            lambda r: r.get("vin_files_after_expire", r["vin_files_after"]),
            "{:,.0f}",
        ),
        ("  after orphan removal", lambda r: r["vin_files_after"], "{:,.0f}"),
        ("files on disk after", lambda r: r["files_after"], "{:,.0f}"),
    ]
    if args.writers > 1:
        n, size = args.writers, args.batch_rows // 5
        rows += [
            (
                f"{n} writers x 10 x {size:,}: rows/s",
                lambda r: r["concurrent_rows_per_s"],
                "{:,.0f}",
            ),
            ("  commits retried", lambda r: r["concurrent_retries"], "{:,.0f}"),
            ("  appends failed", lambda r: r["concurrent_failed"], "{:,.0f}"),
        ]
    print(f"{'':32} {'onshore':>12} {'iceberg':>12} {'iceberg/onshore':>16}")
    for label, get, fmt in rows:
        a, b = get(results["onshore"]), get(results["iceberg"])
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"{label:32} {fmt.format(a):>12} {fmt.format(b):>12} {ratio:>16}")
    ice = results["iceberg"]
    print(
        f"iceberg erasure steps: delete {ice['delete_s']:.2f} s, expire {ice['expire_s']:.2f} s,"
        f" orphan removal {ice['orphans_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
