"""Ingest under load: a simulated fleet at 1 Hz over MQTT (the worker) and HTTP (the service).

Each run gets a fresh data home and its own runner process: ``onshore ingest mqtt`` on the
Mosquitto at 127.0.0.1:1883, or ``onshore serve`` (uvicorn) on a loopback port. N vehicles
each send one message a second for S seconds: JSON telemetry (position, speed, SOC) or a
GB/T 32960.3 real-time frame (vehicle data and position blocks), encoded before the clock
starts. The schedule is paced in 20 ms slots, each vehicle at its own phase in the second.

* MQTT: every message is published on ``bench/RUN/VIN/...`` at QoS 1 (a few lean publisher
  connections carry the fleet, see :class:`RawPublisher`). Its latency ends when the worker
  writes the row's key to its ``--ack-log``, which it does after the batch is durably stored
  and before the QoS 1 ack.
* HTTP: gateways (threads, one keep-alive connection each) post every ``--interval``
  seconds the messages their vehicles produced since the last post (JSON lines, or frames as
  ``application/octet-stream``). A message's latency runs from when its vehicle produced it
  to the response, which is sent once the batch is durably stored.

Printed per run: messages and records stored per second, sustained (stored rows / time from
the first publish to the last durable store), p50 / p99 latency, the runner process's CPU
seconds per 10,000 records (utime + stime from /proc), the bench's own CPU (publishing and
encoding runs on the same machine), and whether it kept up (everything stored within the
drain window and p99 < 1 s).

    python bench/ingest.py [--vehicles 10000] [--seconds 20] [--workers 1,2,3] [--db URL]
                           [--runs mqtt-json,mqtt-gbt32960,http-json,http-gbt32960,http-arrow]
                           [--broker HOST:PORT | --broker own] [--max-wait 0.25] [--busy N]

``--broker own`` starts a Mosquitto with ``bench/mosquitto.conf`` (a queue that holds a backlog)
on a free port; the default is the one at 127.0.0.1:1883, in its own configuration.

``--busy N`` runs N CPU-bound processes next to it, to see how much of the margin a shared
machine takes.

``--workers 1,2,3`` runs each MQTT run with 1, 2 and 3 worker processes sharing the topic
through an MQTT 5 shared subscription (``--group``) and one data home; the CPU column is then
all workers' CPU per 10,000 rows, and a line per run gives each worker's rows and its CPU
seconds per 10,000 of its own rows.

``http-arrow`` posts the same telemetry as Arrow IPC streams: no message decoding, the
pipeline alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
SLOT = 0.02
HOST, PORT = "127.0.0.1", 1883
ONSHORE = [sys.executable, "-m", "onshore"]
TICK = os.sysconf("SC_CLK_TCK")


def vin(i: int) -> str:
    return f"LSVB{i:013d}"


@dataclass
class Plan:
    """Pre-encoded messages: per second, per vehicle; the key each row will be stored under."""

    fmt: str
    vehicles: int
    seconds: int
    payloads: list[list[bytes]] = field(default_factory=list)
    tables: list[object] = field(default_factory=list)

    def key(self, i: int, s: int) -> tuple[str, int]:
        return vin(i), T0_MS + s * 1000

    def due(self, start: float, i: int, s: int) -> float:
        """When vehicle ``i`` produces its message of second ``s`` (wall clock)."""
        return start + s + i / self.vehicles


def _json(i: int, s: int) -> bytes:
    return json.dumps(
        {
            "vin": vin(i),
            "ts": T0_MS + s * 1000,
            "lat": round(39.7 + (i % 400) * 0.001 + s * 1e-5, 6),
            "lon": round(116.2 + (i // 400) * 0.001, 6),
            "speed": 30.0 + i % 50,
            "soc": 80.0 - s * 0.01,
        },
        separators=(",", ":"),
    ).encode()


def _frame(i: int, s: int) -> bytes:
    from onshore import gbt32960 as g32

    local = (T0 + timedelta(seconds=s)).replace(tzinfo=None) + timedelta(hours=8)
    data = g32.VehicleData(1, 3, 1, 30.0 + i % 50, 12345.6, 350.0, 10.0, 80, 1, 0x0E, 5000, 10, 0)
    pos = g32.Position(
        status=0, longitude=116.2 + (i // 400) * 0.001, latitude=39.7 + (i % 400) * 0.001
    )
    report = g32.RealTimeReport(local, (data, pos))
    return g32.encode_frame(g32.Frame(g32.Edition.V2016, 2, 0xFE, vin(i), 1, report))


def _arrow_second(vehicles: int, s: int) -> object:
    import pyarrow as pa

    rows = [json.loads(_json(i, s)) for i in range(vehicles)]
    return pa.table(
        {
            "vin": [r["vin"] for r in rows],
            "ts": pa.array([r["ts"] for r in rows], pa.timestamp("ms", tz="UTC")),
            **{k: [r[k] for r in rows] for k in ("lat", "lon", "speed", "soc")},
        }
    )


def make_plan(fmt: str, vehicles: int, seconds: int) -> Plan:
    plan = Plan(fmt, vehicles, seconds)
    if fmt == "arrow":  # HTTP only: one table a second, sliced per post
        plan.tables = [_arrow_second(vehicles, s) for s in range(seconds)]
        return plan
    encode = _json if fmt == "json" else _frame
    plan.payloads = [[encode(i, s) for i in range(vehicles)] for s in range(seconds)]
    return plan


# -- measurement --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime (and reaped children's) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[k]) for k in (11, 12, 13, 14)) / TICK


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stored_rows(home: Path, db: str | None = None) -> int:
    """Rows in the lake index of ``home`` (its SQLite file, or the database ``db``)."""
    if db is not None:
        from onshore.store.db import MetaDB

        meta = MetaDB(db, home=home)
        try:
            return int(meta.query("SELECT COALESCE(SUM(rows), 0) FROM lake_files")[0][0])
        finally:
            meta.close()
    conn = sqlite3.connect(home / "meta.db")
    try:
        (rows,) = conn.execute("SELECT COALESCE(SUM(rows), 0) FROM lake_files").fetchone()
    finally:
        conn.close()
    return int(rows)


@dataclass
class Result:
    run: str
    published: int
    stored: int
    seconds: float
    latencies: list[float]
    cpu: float
    bench_cpu: float
    drained: bool

    def line(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
        rate = self.stored / self.seconds if self.seconds else 0.0
        per10k = self.cpu / self.stored * 10_000 if self.stored else float("nan")
        kept = "yes" if self.drained and p99 < 1.0 and self.stored == self.published else "no"
        return (
            f"{self.run:16} {self.published:>9,} {self.stored:>9,} {rate:>9,.0f} {rate:>9,.0f} "
            f"{p50:>7.3f} {p99:>7.3f} {per10k:>9.2f} {self.bench_cpu:>8.1f} {kept:>5}"
        )


HEADER = (
    f"{'run':16} {'published':>9} {'stored':>9} {'msgs/s':>9} {'rec/s':>9} "
    f"{'p50 s':>7} {'p99 s':>7} {'cpu/10k':>9} {'bench s':>8} {'kept':>5}"
)


# -- MQTT ---------------------------------------------------------------------------------


class RawPublisher:
    """A lean MQTT 3.1.1 QoS 1 publisher: packets written straight to the socket.

    A Python MQTT client spends 100-700 µs of CPU per QoS 1 publish (measured with paho-mqtt
    here), which on two cores would starve the worker it is meant to load. This one builds
    PUBLISH packets by hand, writes a slot's worth in one ``sendall`` and counts the PUBACKs
    on a reader thread, as a fleet of separate devices would cost the machine nothing.
    """

    def __init__(self, client_id: str) -> None:
        self.sock = socket.create_connection((HOST, PORT))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id.encode()
        var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
        self.sock.sendall(b"\x10" + _varint(len(var)) + var)
        connack = self.sock.recv(4)
        if len(connack) < 4 or connack[3] != 0:
            raise SystemExit(f"MQTT broker refused the publisher: {connack!r}")
        self.acked = 0
        self._next = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            whole = len(pending) // 4  # PUBACK: 0x40 0x02 id id
            self.acked += whole
            pending = pending[whole * 4 :]

    def packet(self, topic: bytes, payload: bytes) -> bytes:
        self._next = self._next % 65535 + 1
        body = len(topic).to_bytes(2, "big") + topic + self._next.to_bytes(2, "big") + payload
        return b"\x32" + _varint(len(body)) + body

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")
        finally:
            self.sock.close()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _forget_session(client_id: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    c.connect(HOST, PORT, clean_start=True, properties=props)
    c.disconnect()


def run_mqtt(
    plan: Plan,
    home: Path,
    drain: float,
    publishers: int,
    max_wait: float = 0.25,
    workers: int = 1,
    db: str | None = None,
) -> Result:
    """One MQTT run; with ``workers`` > 1 the workers share the topic as one group (MQTT 5
    shared subscription) and one data home (and metadata database)."""
    run = f"{plan.fmt}-{uuid.uuid4().hex[:6]}"
    topic_kind = "telemetry" if plan.fmt == "json" else "gbt32960"
    schema = f"onshore_bench_{run.replace('-', '_')}"
    if db is not None and db.startswith(("postgresql://", "postgres://")):
        db = f"{db}{'&' if '?' in db else '?'}schema={schema}"  # a fresh one per run
    client_ids = [f"bench-worker-{run}-{n}" for n in range(workers)]
    acks = [home / f"acks-{n}.tsv" for n in range(workers)]
    procs: list[subprocess.Popen[str]] = []
    said: list[list[str]] = []
    for n, client_id in enumerate(client_ids):
        worker = subprocess.Popen(
            [
                *ONSHORE, "ingest", "mqtt",
                "--topic", f"bench/{run}/+/{topic_kind}={plan.fmt}:fleet",
                "--client-id", client_id, "--home", str(home), "--ack-log", str(acks[n]),
                "--host", HOST, "--port", str(PORT),
                "--max-messages", "10000", "--max-wait", str(max_wait),
                "--idle-exit", str(drain + 30),
                *(["--group", f"bench-{run}"] if workers > 1 else []),
                *(["--db", db] if db else []),
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert worker.stderr is not None
        for line in worker.stderr:
            if "subscribed" in line:
                break
        else:
            raise SystemExit(f"the MQTT worker did not start: {worker.wait()}")
        lines: list[str] = []
        threading.Thread(
            target=lambda w=worker, out=lines: out.extend(w.stderr or ()), daemon=True
        ).start()
        procs.append(worker)
        said.append(lines)
    clients = [RawPublisher(f"bench-pub-{run}-{k}") for k in range(publishers)]
    published_at: dict[tuple[str, int], float] = {}
    cpu0, own0 = [cpu_seconds(w.pid) for w in procs], own_cpu()
    start = time.time() + 0.5
    total = 0
    per_slot = max(1, round(plan.vehicles * SLOT))
    topics = [f"bench/{run}/{vin(i)}/{topic_kind}".encode() for i in range(plan.vehicles)]
    for s in range(plan.seconds):
        for lo in range(0, plan.vehicles, per_slot):
            wait = plan.due(start, lo, s) - time.time()
            if wait > 0:
                time.sleep(wait)
            now = time.time()
            out: list[list[bytes]] = [[] for _ in clients]
            for i in range(lo, min(lo + per_slot, plan.vehicles)):
                c = i % publishers
                out[c].append(clients[c].packet(topics[i], plan.payloads[s][i]))
                published_at[plan.key(i, s)] = now
                total += 1
            for client, packets in zip(clients, out, strict=True):
                client.send(packets)
    logs = [AckLog(a) for a in acks]

    def read_all() -> dict[tuple[str, int], float]:
        merged: dict[tuple[str, int], float] = {}
        for log in logs:
            for k, t in log.read().items():
                merged.setdefault(k, t)
        return merged

    acked = read_all()
    deadline = time.time() + drain
    idle_since = time.time()
    while time.time() < deadline and len(acked) < total:
        time.sleep(0.5)
        before = len(acked)
        acked = read_all()
        if len(acked) > before:
            idle_since = time.time()
        elif time.time() - idle_since > 15:
            break  # nothing stored for 15 s: the rest is not coming (see the broker's queue)
    cpus = [cpu_seconds(w.pid) - c0 for w, c0 in zip(procs, cpu0, strict=True)]
    bench_cpu = own_cpu() - own0
    broker_acked = sum(c.acked for c in clients)
    for c in clients:
        c.close()
    for worker in procs:
        worker.terminate()
    for worker in procs:
        worker.wait(timeout=60)
    time.sleep(0.2)
    for client_id in client_ids:
        _forget_session(client_id)
    if workers > 1:
        shares = [len(log.acked) for log in logs]
        per10k = [f"{c / n * 10_000:.2f}" if n else "-" for c, n in zip(cpus, shares, strict=True)]
        print(
            f"  mqtt-{plan.fmt} x{workers}: rows per worker {shares}; CPU s per 10k of its own "
            f"rows per worker {per10k}"
        )
    if len(acked) < total:
        received = [next((ln.split()[0] for ln in reversed(x) if " messages, " in ln), "?")
                    for x in said]  # fmt: skip
        print(
            f"  mqtt-{plan.fmt}: the broker acknowledged {broker_acked:,} publishes; the "
            f"workers received {', '.join(received)} messages and stored {len(acked):,} rows (a "
            "QoS 1 message the broker cannot queue for a slow subscriber is dropped: "
            "Mosquitto's max_queued_messages, 1000 by default, beyond the 65,535 in flight; "
            "see bench/mosquitto.conf and --broker own)"
        )
    latencies = [acked[k] - t for k, t in published_at.items() if k in acked]
    last = max(acked.values()) if acked else start
    stored = stored_rows(home, db)
    if db is not None and f"schema={schema}" in db:
        import psycopg

        with psycopg.connect(db.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return Result(
        f"mqtt-{plan.fmt}" + (f" x{workers}" if workers > 1 else ""),
        total,
        stored,
        last - start,
        latencies,
        sum(cpus),
        bench_cpu,
        len(acked) >= total,
    )


class AckLog:
    """The worker's ack log, read incrementally: ``(vin, ts)`` → when it was stored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.acked: dict[tuple[str, int], float] = {}
        self._offset = 0
        self._partial = ""

    def read(self) -> dict[tuple[str, int], float]:
        if not self.path.exists():
            return self.acked
        with open(self.path, encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
            self._offset = fh.tell()
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        for line in lines:
            parts = line.split("\t")
            if len(parts) == 4:
                self.acked.setdefault((parts[0], int(parts[1])), float(parts[3]))
        return self.acked


# -- HTTP ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_http(plan: Plan, home: Path, drain: float, gateways: int, interval: float) -> Result:
    import httpx

    key = subprocess.run(
        [*ONSHORE, "serve", "keys", "add", "--role", "ingest", "--name", "bench gateway",
         "--home", str(home)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [*ONSHORE, "serve", "--home", str(home), "--port", str(port), "--no-access-log",
         "--log-level", "warning", "--max-body-bytes", str(256 << 20)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise SystemExit("the service did not start")
    media = {
        "json": "application/x-ndjson",
        "gbt32960": "application/octet-stream",
        "arrow": "application/vnd.apache.arrow.stream",
    }[plan.fmt]
    joiner = b"\n" if plan.fmt == "json" else b""
    latencies: list[float] = []
    stored = [0]
    errors: list[str] = []
    lock = threading.Lock()
    cpu0, own0 = cpu_seconds(server.pid), own_cpu()
    start = time.time() + 0.5
    posts_per_second = max(1, round(1 / interval))
    total = plan.vehicles * plan.seconds
    last_done = [start]

    def gateway(g: int) -> None:
        mine = list(range(g, plan.vehicles, gateways))
        with httpx.Client(
            base_url=base, headers={"X-API-Key": key, "Content-Type": media}, timeout=600
        ) as client:
            for s in range(plan.seconds):
                for k in range(posts_per_second):
                    lo, hi = k / posts_per_second, (k + 1) / posts_per_second
                    batch = [i for i in mine if lo <= i / plan.vehicles < hi]
                    if not batch:
                        continue
                    wait = start + s + hi - time.time()
                    if wait > 0:
                        time.sleep(wait)
                    if plan.fmt == "arrow":
                        body = _ipc(plan.tables[s], batch)
                    else:
                        body = joiner.join(plan.payloads[s][i] for i in batch)
                    r = client.post("/v1/ingest/fleet", content=body)
                    done = time.time()
                    with lock:
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text[:200]}")
                            continue
                        stored[0] += r.json()["stored"]
                        latencies.extend(done - plan.due(start, i, s) for i in batch)
                        last_done[0] = max(last_done[0], done)

    threads = [threading.Thread(target=gateway, args=(g,)) for g in range(gateways)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=plan.seconds + drain)
    drained = not any(t.is_alive() for t in threads)
    cpu = cpu_seconds(server.pid) - cpu0
    bench_cpu = own_cpu() - own0
    server.terminate()
    server.wait(timeout=60)
    if errors:
        print(f"  http-{plan.fmt}: {len(errors)} failed posts, first: {errors[0]}")
    return Result(
        f"http-{plan.fmt}",
        total,
        stored_rows(home),
        last_done[0] - start,
        latencies,
        cpu,
        bench_cpu,
        drained,
    )


def _ipc(table: object, rows: list[int]) -> bytes:
    import pyarrow as pa

    part = table.take(pa.array(rows))  # type: ignore[attr-defined]
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, part.schema) as writer:
        writer.write_table(part)
    return bytes(sink.getvalue().to_pybytes())


def own_broker() -> subprocess.Popen[bytes]:
    """Start a Mosquitto with ``bench/mosquitto.conf`` on a free loopback port (sets PORT)."""
    global PORT
    PORT = _free_port()
    conf = Path(tempfile.mkdtemp(prefix="onshore-bench-mosquitto-")) / "mosquitto.conf"
    settings = (Path(__file__).parent / "mosquitto.conf").read_text()
    conf.write_text(f"listener {PORT} {HOST}\n{settings}")
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        try:
            socket.create_connection((HOST, PORT), timeout=1).close()
            return broker
        except OSError:
            time.sleep(0.05)
    broker.kill()
    raise SystemExit("mosquitto did not start")


def main() -> None:
    global HOST, PORT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--runs", default="mqtt-json,mqtt-gbt32960,http-json,http-gbt32960,http-arrow")
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to wait for stragglers")
    ap.add_argument("--publishers", type=int, default=4, help="MQTT publisher connections")
    ap.add_argument(
        "--max-wait", type=float, default=0.25, help="the MQTT worker's batch age limit (s)"
    )
    ap.add_argument(
        "--workers",
        default="1",
        help="MQTT workers per run, or a list (1,2,3: each MQTT run once per count); more than "
        "one share the topic as a group (MQTT 5 shared subscription) and one data home",
    )
    ap.add_argument(
        "--db",
        help="metadata database URL for the MQTT runs (default: the data home's SQLite file); "
        "with PostgreSQL each run works in a schema of its own, dropped afterwards",
    )
    ap.add_argument("--gateways", type=int, default=2, help="HTTP gateway connections")
    ap.add_argument("--interval", type=float, default=0.5, help="HTTP post interval (s)")
    ap.add_argument("--keep", action="store_true", help="keep the data homes")
    ap.add_argument(
        "--busy",
        type=int,
        default=0,
        help="start this many CPU-bound processes for the whole run (a shared machine)",
    )
    ap.add_argument(
        "--broker",
        default=f"{HOST}:{PORT}",
        help="HOST:PORT of the Mosquitto for the MQTT runs, or 'own': start one with the "
        "settings of bench/mosquitto.conf on a free port",
    )
    args = ap.parse_args()
    broker = None
    if args.broker == "own":
        broker = own_broker()
    else:
        host, _, port = args.broker.rpartition(":")
        HOST, PORT = host or HOST, int(port)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        run_all(args)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        if broker is not None:
            broker.terminate()
            broker.wait(timeout=10)


def run_all(args: argparse.Namespace) -> None:
    print(
        f"{args.vehicles:,} vehicles at 1 Hz for {args.seconds} s; {os.cpu_count()} CPUs; "
        f"MQTT {HOST}:{PORT}, {args.publishers} publishers; HTTP {args.gateways} gateways "
        f"posting every {args.interval} s; MQTT batches wait up to {args.max_wait} s"
        + (f"; {args.busy} CPU-bound processes alongside" if args.busy else "")
    )
    plans: dict[str, Plan] = {}
    results = []
    counts = [int(n) for n in str(args.workers).split(",")]
    todo = [
        (run, n)
        for run in args.runs.split(",")
        for n in (counts if run.startswith("mqtt-") else [1])
    ]
    for run, workers in todo:
        transport, fmt = run.split("-", 1)
        if fmt not in plans:
            t = time.perf_counter()
            plans[fmt] = make_plan(fmt, args.vehicles, args.seconds)
            print(f"  encoded {args.vehicles * args.seconds:,} {fmt} messages in "
                  f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        home = Path(tempfile.mkdtemp(prefix=f"onshore-bench-{run}-"))
        try:
            if transport == "mqtt":
                result = run_mqtt(
                    plans[fmt],
                    home,
                    args.drain,
                    args.publishers,
                    args.max_wait,
                    workers,
                    args.db,
                )
            else:
                result = run_http(plans[fmt], home, args.drain, args.gateways, args.interval)
        finally:
            if not args.keep:
                shutil.rmtree(home, ignore_errors=True)
        results.append(result)
        print(f"  {result.line()}", flush=True)
    print()
    print(HEADER)
    for result in results:
        print(result.line())
    print(
        "\nmsgs/s = rec/s: one record per message. cpu/10k: CPU seconds of the runner process "
        "(worker or server) per 10,000 records stored. bench s: CPU seconds of this process "
        "(publishing, posting). kept: all stored within the drain window and p99 < 1 s."
    )


if __name__ == "__main__":
    main()
