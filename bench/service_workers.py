"""Requests/s of ``onshore serve`` with 1 and 2 uvicorn workers on PostgreSQL.

Each run gets a fresh data home, a fresh PostgreSQL schema (dropped afterwards) and its own
``onshore serve --workers N --db postgresql://…?schema=…`` on a free loopback port, with an
operator key. ``--clients`` threads, each on keep-alive connections of its own (the kernel
hands each new connection to one of the workers), then send for ``--seconds``:

- ``write``: ``POST /v1/ingest/telemetry``, a JSON-lines body of ``--rows`` new rows (each
  request its own second, so no row is a duplicate): key claim, pipeline, a lake file, two
  ledger appends;
- ``read``: ``GET /v1/ledger/head`` (a read of the ledger and nothing else).

``--mix`` is the share of writes (default 0.5: each client alternates). Printed per run: the
requests/s of each kind and in all, p50 and p99 latency, and at the end that ``ledger
verify`` passed on the schema. The client threads share the machine with the service, so on
a small machine they take CPU from it: compare runs on the same machine only.

    python bench/service_workers.py [--workers 1,2] [--seconds 20] [--clients 8] [--rows 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg

T0_MS = 1_772_438_400_000  # 2026-03-02T08:00:00Z
ONSHORE = [sys.executable, "-m", "onshore"]
PG = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"write": [], "read": []})
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            if status == 200:
                self.latencies[kind].append(seconds)
            else:
                key = f"{kind} {status}"
                self.errors[key] = self.errors.get(key, 0) + 1


def _body(request: int, rows: int) -> bytes:
    return b"".join(
        json.dumps(
            {
                "vin": f"LSVAU2180N2{v:06d}",
                "ts": T0_MS + request * 1000,
                "lat": 31.2 + v * 1e-4,
                "lon": 121.4,
                "speed": 42.0,
            }
        ).encode()
        + b"\n"
        for v in range(rows)
    )


def _client(
    base: str, key: str, number: int, args: argparse.Namespace, stop: float, tally: Tally
) -> None:
    headers = {"X-API-Key": key}
    write_headers = {**headers, "Content-Type": "application/x-ndjson"}
    sent = 0
    credit = 0.5  # writes are spread evenly: one each time the credit reaches 1
    with httpx.Client(base_url=base, timeout=120) as client:
        while time.monotonic() < stop:
            credit += args.mix
            write = credit >= 1
            if write:
                credit -= 1
            started = time.perf_counter()
            if write:
                request = number * 1_000_000 + sent
                r = client.post(
                    "/v1/ingest/telemetry", content=_body(request, args.rows), headers=write_headers
                )
            else:
                r = client.get("/v1/ledger/head", headers=headers)
            tally.add("write" if write else "read", time.perf_counter() - started, r.status_code)
            sent += 1


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def run(workers: int, args: argparse.Namespace) -> dict[str, object]:
    schema = f"onshore_bench_workers_{uuid.uuid4().hex[:10]}"
    url = f"{PG}{'&' if '?' in PG else '?'}schema={schema}"
    with tempfile.TemporaryDirectory() as tmp:
        db = ["--home", f"{tmp}/home", "--db", url]
        key = subprocess.run(
            [*ONSHORE, "serve", "keys", "add", "--role", "operator", "--name", "bench", *db],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _port()
        server = subprocess.Popen(
            [
                *ONSHORE,
                "serve",
                *db,
                *("--port", str(port), "--workers", str(workers)),
                *("--no-access-log", "--log-level", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            time.sleep(2.0 * workers)  # every worker up, not only the first
            tally = Tally()
            stop = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=_client, args=(base, key, n, args, stop, tally))
                for n in range(args.clients)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=60)
        verify = subprocess.run([*ONSHORE, "ledger", "verify", *db, "--json"], capture_output=True)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    out: dict[str, object] = {"workers": workers, "seconds": round(elapsed, 1)}
    total = 0
    for kind, values in tally.latencies.items():
        total += len(values)
        out[f"{kind}/s"] = round(len(values) / elapsed, 1)
        out[f"{kind} p50 ms"] = round(_pct(values, 0.5), 1)
        out[f"{kind} p99 ms"] = round(_pct(values, 0.99), 1)
    out["requests/s"] = round(total / elapsed, 1)
    out["errors"] = tally.errors
    out["ledger verify"] = "ok" if verify.returncode == 0 else f"FAILED ({verify.returncode})"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rows", type=int, default=20, help="rows per write request")
    parser.add_argument("--mix", type=float, default=0.5, help="share of writes (0..1)")
    args = parser.parse_args()
    print(
        f"cpus: {os.cpu_count()}; clients: {args.clients}; rows/write: {args.rows}; "
        f"mix: {args.mix}; {args.seconds:.0f} s per run; PostgreSQL {PG}"
    )
    for workers in [int(w) for w in args.workers.split(",")]:
        print(json.dumps(run(workers, args)), flush=True)


if __name__ == "__main__":
    main()
