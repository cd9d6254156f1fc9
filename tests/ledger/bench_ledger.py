"""Ledger throughput: appends/s (one and several processes), verify, proofs. Not a test.

    .venv/bin/python tests/ledger/bench_ledger.py [--db postgresql://postgres@127.0.0.1/test]
        [--n 2000] [--procs 4] [--batch 1]

SQLite goes to a temporary data home; PostgreSQL to a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ledger_support import make_entry

from onshore.keystore import Keystore
from onshore.ledger import Ledger


def _open(db: str | None, home: str) -> Ledger:
    return Ledger.open(db, home=home, keystore=Keystore(f"{home}/keys", environ={}))


def _appender(args: tuple[str | None, str, int, int, int]) -> tuple[float, float]:
    """Append ``n`` entries; return wall-clock (start, end) so overlapping runs can be summed."""
    db, home, worker, n, batch = args
    with _open(db, home) as ledger:
        start = time.time()
        for i in range(0, n, batch):
            ledger.append_many([make_entry(worker * 10**6 + i + k) for k in range(batch)])
        return start, time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary home)")
    parser.add_argument("--n", type=int, default=2000, help="entries per process")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--fill", type=int, default=0, help="first append this many in batches")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="onshore-bench-")
    db = args.db
    if db and db.startswith("postgres"):
        db += ("&" if "?" in db else "?") + f"schema=onshore_bench_{uuid.uuid4().hex[:8]}"
    _open(db, home).close()
    try:
        if args.fill:
            start, end = _appender((db, home, 99, args.fill, 1000))
            print(f"fill {args.fill:,} in batches of 1000: {args.fill / (end - start):,.0f}/s")
        start, end = _appender((db, home, 0, args.n, args.batch))
        print(f"1 process: {args.n / (end - start):,.0f} entries/s (batch {args.batch})")
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(args.procs, mp_context=ctx) as pool:
            jobs = [(db, home, w + 1, args.n, args.batch) for w in range(args.procs)]
            spans = list(pool.map(_appender, jobs))
        wall = max(e for _, e in spans) - min(s for s, _ in spans)
        total = args.procs * args.n
        print(f"{args.procs} processes at once: {total / wall:,.0f} entries/s overall")
        with _open(db, home) as ledger:
            start = time.perf_counter()
            report = ledger.verify()
            took = time.perf_counter() - start
            print(f"verify {report.entries:,} entries: {took:.2f} s, ok={report.ok}")
            start = time.perf_counter()
            indices = range(0, report.entries, max(1, report.entries // 20))
            for index in indices:
                ledger.inclusion_proof(index)
            took = (time.perf_counter() - start) / len(indices)
            print(f"inclusion proof at size {report.entries:,}: {took * 1000:.0f} ms each")
    finally:
        if db and db.startswith("postgres"):
            from onshore.ledger.postgres import PostgresBackend

            backend = PostgresBackend(db)
            backend.drop_schema()
            backend.close()


if __name__ == "__main__":
    main()
