"""Per-core unit costs of the streaming path, measured here, and the fleet they size.

Each figure is one process on one core doing one thing in a loop, timed on this machine:

* ``ingest``: ``Ingestor.ingest`` on JSON messages, what an MQTT worker does per batch after
  the broker hands it the payloads (decode, consent gate, classify, lake write, dedup keys,
  ledger entries), with batches of ``--batch`` messages. Messages/s per core.
* ``keys``: the dedup key claim alone (``ingest_keys``: one row per message, the only metadata
  write per message), rows/s; on PostgreSQL also the bytes a key takes (table and indexes).
* ``lake``: a lake commit alone (``Lake.stage`` → ``add`` → ``commit``: a new Parquet file and
  its ``lake_files`` row), at two batch sizes, giving a fixed cost per commit and a cost per
  row.
* ``ledger``: ``DataHome.record`` (one signed, Merkle-chained ledger entry), appends/s.
* ``distinct``: the dataset rule's work (distinct VINs over a day's Parquet), rows/s per core:
  the unit a Spark executor core does at about the same rate (vectorized Parquet scan and hash
  aggregate).

Metadata figures are taken on SQLite (the embedded default) and on PostgreSQL when
``--pg URL`` is given (a fresh schema, dropped at the end). Then the fleet figures: for
100,000 and 1,000,000 vehicles at 1 Hz, the cores each part needs, the files a day, and which
part runs out first. One client process per figure: PostgreSQL and the workers scale out, the
ledger (one serialized append at a time) does not, so its figure is a ceiling.

    python bench/sizing.py [--batch 2000] [--seconds 3] [--pg postgresql://127.0.0.1:5432/test]
                           [--json]

The machine's load changes every figure: quote them with the machine and ``uptime``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

T0_MS = int(datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp() * 1000)
FLEETS = (100_000, 1_000_000)


def vin(i: int) -> str:
    return f"LSVB{i:013d}"


def payloads(n: int, second: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "vin": vin(i),
                "ts": T0_MS + second * 1000,
                "lat": round(39.7 + (i % 400) * 0.001, 6),
                "lon": round(116.2 + (i // 400) * 0.001, 6),
                "speed": 30.0 + i % 50,
                "soc": 80.0,
            },
            separators=(",", ":"),
        ).encode()
        for i in range(n)
    ]


def timed(seconds: float, step: Callable[[int], int]) -> float:
    """Units per second: ``step(i)`` returns the units it did; runs at least ``seconds``."""
    done, i = 0, 0
    started = time.perf_counter()
    while True:
        done += step(i)
        i += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and i >= 2:
            return done / elapsed


def open_home(path: Path, db: str | None) -> Any:
    from onshore.store import DataHome

    return DataHome(path, db=db, environ={"ONSHORE_JURISDICTION": "CN"}, actor="bench")


def measure(db: str | None, work: Path, batch: int, seconds: float) -> dict[str, float]:
    from onshore.ingest import Ingestor
    from onshore.ingest.keys import KeyIndex
    from onshore.model import Level
    from onshore.store import Lake

    out: dict[str, float] = {}
    home_path = work / f"home-{secrets.token_hex(3)}"
    with open_home(home_path, db) as home:
        ingestor = Ingestor(home, worker="bench")
        encoded = [payloads(batch, s) for s in range(4)]
        out["ingest_msgs_per_s"] = timed(
            seconds,
            lambda i: (
                ingestor.ingest("telemetry", "json", _shift(encoded[i % 4], i)).stored or batch
            ),
        )

        index = KeyIndex(home, "bench-keys")
        keys = [(vin(k), 0, "json") for k in range(batch)]
        out["key_rows_per_s"] = timed(
            seconds,
            lambda i: (
                index.claim("keys", "bench", [(v, T0_MS + i * 1000, k) for v, _, k in keys]),
                batch,
            )[1],
        )

        if db is not None and db.startswith("postgresql"):
            size, count = home.meta.query(
                "SELECT pg_total_relation_size('ingest_keys'), COUNT(*) FROM ingest_keys"
            )[0]
            out["key_bytes_per_row"] = int(size) / max(int(count), 1)

        lake = Lake(home)
        for rows in (batch, batch * 10):
            table = pa.table(
                {
                    "vin": pa.array([vin(k % 100_000) for k in range(rows)]),
                    "ts": pa.array(
                        np.full(rows, T0_MS, dtype="int64"), pa.timestamp("ms", tz="UTC")
                    ),
                    "lat": np.full(rows, 39.9),
                    "lon": np.full(rows, 116.4),
                }
            )

            def commit(i: int, table: pa.Table = table) -> int:
                staged = lake.stage(
                    "lake", store="local", origin="CN", vin_column="vin", ts_column="ts"
                )
                for b in table.to_batches():
                    staged.add(b)
                staged.commit(level=Level.IMPORTANT, categories=())
                return 1

            out[f"lake_commits_per_s_{rows}"] = timed(seconds, commit)

        out["ledger_appends_per_s"] = timed(
            seconds,
            lambda i: (
                home.record("storage", purpose="bench", dataset="bench", counts={"rows": i}),
                1,
            )[1],
        )
    shutil.rmtree(home_path, ignore_errors=True)
    return out


def _shift(batch: list[bytes], i: int) -> list[bytes]:
    """The same messages one new second later (fresh dedup keys every round)."""
    later = str(T0_MS + (i + 4) * 1000).encode()
    first = str(T0_MS + (i % 4) * 1000).encode()
    return [p.replace(first, later, 1) for p in batch]


def distinct_rate(work: Path, rows: int, seconds: float) -> float:
    """Rows/s of the dataset rule's core: distinct VINs over Parquet files (read + hash)."""
    path = work / "day.parquet"
    vins = pa.array([vin(k) for k in range(100_000)])
    idx = pa.array(np.random.default_rng(3).integers(0, 100_000, rows))
    pq.write_table(pa.table({"vin": pc.take(vins, idx), "x": np.zeros(rows)}), path)

    def once(i: int) -> int:
        column = pq.read_table(path, columns=["vin"]).column("vin")
        assert pc.count_distinct(column).as_py() <= 100_000
        return rows

    return timed(seconds, once)


def fleet(
    m: dict[str, dict[str, float]], batch: int, periods: list[float], max_batch: int
) -> list[str]:
    """The fleet figures from the unit costs (see docs/scaling.md for the reasoning).

    A worker commits a batch when it holds ``max_batch`` messages or its oldest message has
    waited ``period`` seconds, whichever comes first; each commit writes one file per date
    and one ledger append (its ``collection`` and ``storage`` entries under one head)."""
    lines = []
    for name, unit in m.items():
        per_core = unit["ingest_msgs_per_s"]
        big = batch * 10
        t_small = 1 / unit[f"lake_commits_per_s_{batch}"]
        t_large = 1 / unit[f"lake_commits_per_s_{big}"]
        per_row = max((t_large - t_small) / (big - batch), 0.0)
        fixed = max(t_small - per_row * batch, 0.0)
        ceiling = unit["ledger_appends_per_s"]
        lines.append(
            f"[{name}] ingest {per_core:,.0f} msg/s/core · key claims {unit['key_rows_per_s']:,.0f}"
            f" rows/s/client · lake commit {fixed * 1e3:.1f} ms + {per_row * 1e6:.2f} µs/row ·"
            f" ledger {ceiling:,.0f} appends/s (serial)"
        )
        for vehicles in FLEETS:
            cores = vehicles / per_core
            workers = max(1, int(np.ceil(cores)))
            keys = (
                f"  {vehicles:>9,} vehicles at 1 Hz: {cores:,.1f} ingest cores ({workers} workers),"
            )
            keys += f" {vehicles / unit['key_rows_per_s']:,.1f} clients' worth of key inserts"
            if "key_bytes_per_row" in unit:
                per_day = vehicles * 86_400 * unit["key_bytes_per_row"]
                keys += f", {per_day / 1e12:,.2f} TB of key table a day kept"
            lines.append(keys)
            for period in periods:
                per_worker = vehicles / workers
                commits = workers * max(per_worker / max_batch, 1 / period)
                ledger = commits  # one append per put
                lines.append(
                    f"      max-wait {period:g} s: {commits:,.0f} commits/s,"
                    f" {commits * 86_400 / 1e6:,.2f} M files/day, ledger {ledger:,.0f} appends/s"
                    f" = {ledger / ceiling:,.1f}x the serial ceiling"
                )
        workers_max = ceiling / (1 / periods[0])
        lines.append(
            f"  ledger ceiling at max-wait {periods[0]:g} s: {workers_max:,.1f} workers"
            f" = {workers_max * per_core:,.0f} vehicles at 1 Hz"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000, help="Messages a batch (2000).")
    parser.add_argument("--seconds", type=float, default=3.0, help="Time per figure (3).")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL for the metadata figures.")
    parser.add_argument(
        "--max-wait",
        default="0.25,2",
        help="Workers' max wait before a commit, s, comma-separated (0.25,2).",
    )
    parser.add_argument(
        "--max-batch", type=int, default=50_000, help="Workers' largest batch (50,000)."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sizing-"))
    schema = f"sizing_{secrets.token_hex(4)}"
    units: dict[str, dict[str, float]] = {}
    try:
        units["sqlite"] = measure(None, work, args.batch, args.seconds)
        if args.pg:
            sep = "&" if "?" in args.pg else "?"
            units["postgresql"] = measure(
                f"{args.pg}{sep}schema={schema}", work, args.batch, args.seconds
            )
        distinct = distinct_rate(work, 2_000_000, args.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.pg:
            _drop_schema(args.pg, schema)
    load = os.getloadavg()
    if args.json:
        figures = {"units": units, "distinct_rows_per_s": distinct, "load": load}
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"batch {args.batch:,} messages, {args.seconds:g} s a figure, {os.cpu_count()} CPUs,"
        f" load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (a shared machine: figures vary)"
    )
    periods = [float(p) for p in args.max_wait.split(",")]
    for line in fleet(units, args.batch, periods, args.max_batch):
        print(line)
    day = {v: v * 86_400 for v in FLEETS}
    for vehicles, rows in day.items():
        print(
            f"dataset rules over a day of {vehicles:,} vehicles ({rows / 1e9:,.1f} G rows):"
            f" {rows / distinct / 3600:,.1f} core-hours at {distinct / 1e6:,.1f} M rows/s/core"
        )
    return 0


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    base = url.split("?", 1)[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    raise SystemExit(main())
