"""Three MQTT workers share a stream through an MQTT 5 shared subscription, with one data
home whose metadata (key index, lake index, ledger) is in one database: PostgreSQL, or one
SQLite file. One worker dies by SIGKILL inside the narrowest window (its batch in the lake, not
yet confirmed) and another is ``kill -9``'d from outside mid-stream; both are restarted. A
quarter of the vehicles send each JSON message twice, and the broker gives the two copies to
different workers, which claim the same rows at the same time. Every
message a worker acknowledged (PUBACK) is stored exactly once, every published message is
stored (the broker's queue is sized for the restarts), all three took a share, and the
ledger verifies.

Needs Mosquitto (2.0+: MQTT 5 shared subscriptions) and, for the PostgreSQL case, the server at
127.0.0.1:5432 (``ONSHORE_TEST_PG`` overrides the URL); each run works in its own schema."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
import mqtt_support
from ingest_support import T0_MS, gbt_frame, json_message, vin
from mqtt_support import Publisher, unique

from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake

pytest.importorskip("paho.mqtt")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 3
VEHICLES = 40
SECONDS = 30  # simulated seconds: a JSON message and a 32960 frame per vehicle each
RATE = 300  # messages per second on the wire
PG_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Mosquitto of its own with the settings docs/ingest.md asks of an operator."""
    exe = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if exe is None:
        if os.environ.get("ONSHORE_CI"):
            raise AssertionError("mosquitto is not installed")
        pytest.skip("mosquitto is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n{(ROOT / 'bench' / 'mosquitto.conf').read_text()}")
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The shared metadata database: a PostgreSQL schema of its own, or one SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared-meta.db'}"
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"onshore_shared_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Worker:
    """One ``onshore ingest mqtt`` process of the group, restartable under the same id."""

    def __init__(self, n: int, tmp: Path, argv: list[str]) -> None:
        self.client_id = unique(f"w{n}")
        self.ack_log = tmp / f"acked-{n}.tsv"
        self.log = tmp / f"worker-{n}.log"
        self.argv = [*argv, "--client-id", self.client_id, "--ack-log", str(self.ack_log)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, fault: str = "") -> None:
        env = {**os.environ, "ONSHORE_JURISDICTION": "CN", "ONSHORE_INGEST_FAULT": fault}
        self.proc = subprocess.Popen(
            self.argv, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env
        )
        self.starts += 1

    def wait_subscribed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_bytes().count(b"subscribed to ") >= self.starts:
                return
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"{self.client_id} did not subscribe: {self.log.read_text()}")

    def acked(self) -> int:
        return self.ack_log.read_bytes().count(b"\n") if self.ack_log.exists() else 0


def test_three_workers_kill_9_one_mid_stream(
    tmp_path: Path, broker: tuple[str, int], db: str
) -> None:
    host, port = broker
    group, prefix = unique("group"), unique("shared")
    home = tmp_path / "home"
    argv = [
        sys.executable, "-m", "onshore", "ingest", "mqtt", "--home", str(home), "--db", db,
        "--host", host, "--port", str(port), "--group", group,
        "--topic", f"{prefix}/vehicles/+/telemetry=json",
        "--topic", f"{prefix}/vehicles/+/gbt32960=gbt32960",
        "--max-wait", "0.1", "--max-messages", "100", "--idle-exit", "6",
    ]  # fmt: skip
    workers = [Worker(n, tmp_path, argv) for n in range(WORKERS)]
    published: set[tuple[str, int, str]] = set()
    done = threading.Event()
    old = mqtt_support.HOST, mqtt_support.PORT
    mqtt_support.HOST, mqtt_support.PORT = host, port

    def stream() -> None:
        pub = Publisher()
        gap = 2 * VEHICLES / RATE
        for second in range(SECONDS):
            started = time.monotonic()
            for i in range(VEHICLES):
                pub.publish(f"{prefix}/vehicles/{i}/telemetry", json_message(i, second))
                pub.publish(f"{prefix}/vehicles/{i}/gbt32960", gbt_frame(i, second))
                if i % 4 == 0:  # a device that sends again (its PUBACK was lost): the copy
                    pub.publish(f"{prefix}/vehicles/{i}/telemetry", json_message(i, second))
                published.add((vin(i), T0_MS + second * 1000, "json"))
                published.add((vin(i), T0_MS + second * 1000, "gbt32960:2"))
            time.sleep(max(0.0, gap - (time.monotonic() - started)))
        time.sleep(1.0)
        pub.close()
        done.set()

    try:
        # Worker 0 kills itself (SIGKILL) once its 3rd batch is in the lake, unconfirmed.
        workers[0].start(fault="kill-after-store:3")
        for w in workers[1:]:
            w.start()
        for w in workers:
            w.wait_subscribed(timeout=90)
        feeder = threading.Thread(target=stream)
        feeder.start()
        assert workers[0].proc is not None
        assert workers[0].proc.wait(timeout=90) == -signal.SIGKILL, workers[0].log.read_text()
        workers[0].start()
        # Worker 1 is killed from outside, wherever it is, once it has acknowledged some.
        deadline = time.monotonic() + 90
        while workers[1].acked() < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert workers[1].acked() >= 300, "worker 1 took no share of the stream"
        assert workers[1].proc is not None
        os.kill(workers[1].proc.pid, signal.SIGKILL)
        workers[1].proc.wait()
        workers[1].start()
        feeder.join(timeout=180)
        assert done.is_set()
        for w in workers:
            assert w.proc is not None
            assert w.proc.wait(timeout=180) == 0, w.log.read_text()
    finally:
        mqtt_support.HOST, mqtt_support.PORT = old
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()

    acked: set[tuple[str, int, str]] = set()
    for w in workers:
        for line in w.ack_log.read_text().splitlines():
            v, t, k = line.split("\t")[:3]
            acked.add((v, int(t), k))
    with DataHome(home, db=db, environ={}) as data_home:
        stored: list[tuple[str, int, str]] = []
        for f in Lake(data_home).files():
            stored.extend(file_keys(data_home.store(f.store).root / f.path))
    assert len(stored) == len(set(stored)), "a row was stored twice"
    assert acked <= set(stored), "an acknowledged row is missing from the lake"
    assert set(stored) == published, "a published row was lost"
    assert all(w.acked() > 0 for w in workers), "a worker took no share"
    # The batch worker 0 died in was settled: by itself on restart, or by a worker that met
    # its rows first (a copy), took the dead worker's batch over and settled it.
    settled = [w.log.read_text() for w in workers]
    assert '"found":' in settled[0] or any("took over batch" in x for x in settled)
    # The copies mostly went to another worker than their originals (the broker takes
    # turns): both workers acknowledged the row, and it was stored once.
    copied = {
        (vin(i), T0_MS + s * 1000, "json") for i in range(0, VEHICLES, 4) for s in range(SECONDS)
    }
    holders: dict[tuple[str, int, str], set[int]] = {}
    for n, w in enumerate(workers):
        for line in w.ack_log.read_text().splitlines():
            v, t, k = line.split("\t")[:3]
            holders.setdefault((v, int(t), k), set()).add(n)
    across = sum(1 for key in copied if len(holders.get(key, ())) >= 2)
    assert across >= len(copied) // 2, f"only {across} of {len(copied)} copies crossed workers"
    verify = subprocess.run(
        [sys.executable, "-m", "onshore", "ledger", "verify", "--home", str(home), "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
