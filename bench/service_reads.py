"""Reads during a long write: latency of read requests while a 64 MB ingest runs.

Each run gets a fresh data home and its own ``onshore serve`` (uvicorn) on a free loopback
port. A small ingest seeds one vehicle; then one thread posts one big JSON-lines body (64 MB
by default, other vehicles) to ``POST /v1/ingest/telemetry`` while reader threads, one per
endpoint and each on a keep-alive connection of its own, call ``GET /v1/health``,
``GET /v1/console/subjects/{vin}`` (the seeded vehicle), ``GET /v1/consents?vin=…`` and
``GET /v1/ledger/head`` back to back. The reads that start while the ingest request is in
flight count. The subject and consent reads append a ``view`` entry to the ledger, which
takes the database's write lock for a moment; the ledger head is a read and nothing else.

Printed per run: how long the ingest took, and per endpoint the reads made during it, p50,
p99 and the slowest. ``--readers 0`` serves every request in turn behind the writer lock (how
the service worked before read sessions); the default runs compare it with ``--readers 4``.

    python bench/service_reads.py [--mb 64] [--readers 0,4] [--pause 0.02]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

T0_MS = 1_772_438_400_000  # 2026-03-02T08:00:00Z
SEED_VIN = "LSVAU2180N2999999"
ONSHORE = [sys.executable, "-m", "onshore"]
ENDPOINTS = {
    "health": "/v1/health",
    "subject": f"/v1/console/subjects/{SEED_VIN}",
    "consents": f"/v1/consents?vin={SEED_VIN}",
    "head": "/v1/ledger/head",
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _line(vin: str, second: int) -> bytes:
    return (
        json.dumps(
            {
                "vin": vin,
                "ts": T0_MS + second * 1000,
                "lat": 31.2 + (second % 600) * 1e-4,
                "lon": 121.4 + (second % 700) * 1e-4,
                "speed": 42.0,
                "soc": 80.0,
            }
        ).encode()
        + b"\n"
    )


def big_body(megabytes: int) -> tuple[bytes, int]:
    """JSON lines for 1,000 vehicles, one message a second each, up to ``megabytes``."""
    target = megabytes << 20
    lines: list[bytes] = []
    size = 0
    second = 0
    while size < target:
        for v in range(1000):
            line = _line(f"LSVAU2180N2{v:06d}", second)
            lines.append(line)
            size += len(line)
            if size >= target:
                break
        second += 1
    return b"".join(lines), len(lines)


@dataclass
class Reads:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _key(home: Path, role: str) -> str:
    out = subprocess.run(
        [*ONSHORE, "serve", "keys", "add", "--role", role, "--name", role, "--home", str(home)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def run(readers: int, body: bytes, pause: float) -> None:
    with tempfile.TemporaryDirectory(prefix="onshore-bench-reads-") as tmp:
        home = Path(tmp) / "home"
        ingest_key, reader_key = _key(home, "ingest"), _key(home, "compliance")
        port = _port()
        limit = str(len(body) + (1 << 20))
        server = subprocess.Popen(
            [
                *ONSHORE,
                *("serve", "--home", str(home), "--port", str(port), "--max-body-bytes", limit),
                *("--readers", str(readers), "--no-access-log", "--log-level", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _measure(base, ingest_key, reader_key, readers, body, pause)
        finally:
            server.terminate()
            server.wait(timeout=60)


def _measure(
    base: str, ingest_key: str, reader_key: str, readers: int, body: bytes, pause: float
) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    jsonl = {"Content-Type": "application/x-ndjson"}
    seed = b"".join(_line(SEED_VIN, s) for s in range(60))
    r = httpx.post(
        f"{base}/v1/ingest/seed", content=seed, headers={"X-API-Key": ingest_key, **jsonl}
    )
    r.raise_for_status()
    headers = {"X-API-Key": reader_key}
    for path in ENDPOINTS.values():  # warm up each endpoint once
        httpx.get(base + path, headers=headers, timeout=60).raise_for_status()

    running = threading.Event()
    stop = threading.Event()
    reads = {name: Reads() for name in ENDPOINTS}

    def reader(name: str, path: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            while not stop.is_set():
                counted = running.is_set()
                started = time.perf_counter()
                try:
                    ok = client.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                if counted:  # started during the ingest, however late it ended
                    reads[name].latencies.append(took)
                    reads[name].errors += 0 if ok else 1
                time.sleep(pause)

    threads = [
        threading.Thread(target=reader, args=(n, p), daemon=True) for n, p in ENDPOINTS.items()
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    running.set()
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/v1/ingest/telemetry",
        content=body,
        headers={"X-API-Key": ingest_key, **jsonl},
        timeout=3600,
    )
    ingest_s = time.perf_counter() - started
    running.clear()
    stop.set()
    for t in threads:
        t.join(600)
    r.raise_for_status()
    stored = r.json()["stored"]
    mode = "serialised (--readers 0)" if readers == 0 else f"--readers {readers}"
    print(f"\n{mode}: ingest of {len(body) / (1 << 20):.0f} MB ({stored:,} rows) {ingest_s:.1f} s")
    print(f"  {'endpoint':<10} {'reads':>6} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'errors':>6}")
    for name, got in reads.items():
        lat = sorted(got.latencies)
        if not lat:
            print(f"  {name:<10} {0:>6}")
            continue
        p50 = statistics.median(lat)
        p99 = lat[math.ceil(0.99 * len(lat)) - 1]  # nearest rank: the slowest under 100
        print(f"  {name:<10} {len(lat):>6} {p50:>8.3f} {p99:>8.3f} {lat[-1]:>8.3f} {got.errors:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="size of the ingest body (MiB)")
    parser.add_argument("--readers", default="0,4", help="--readers of each run, comma-separated")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between reads")
    args = parser.parse_args()
    body, lines = big_body(args.mb)
    print(f"body: {len(body):,} bytes, {lines:,} JSON lines")
    for readers in (int(r) for r in args.readers.split(",")):
        run(readers, body, args.pause)


if __name__ == "__main__":
    main()
