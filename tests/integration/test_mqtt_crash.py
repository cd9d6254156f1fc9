"""Crash test: ``kill -9`` the worker in the middle of a sustained stream, restart it, and show
that every acknowledged message is stored exactly once (and, the broker's queue permitting,
that every published message is stored exactly once too)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
import mqtt_support
from ingest_support import gbt_frame, json_message, vin
from mqtt_support import Publisher, forget_session, require_broker, unique

from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake

pytest.importorskip("paho.mqtt")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

VEHICLES = 40
SECONDS = 40  # simulated seconds: 2 messages per vehicle each (JSON and 32960)
RATE = 300  # messages per second on the wire


def _start(
    home: Path, prefix: str, client_id: str, ack_log: Path, log: Path, fault: str = ""
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "onshore",
        "ingest",
        "mqtt",
        "--home",
        str(home),
        "--host",
        mqtt_support.HOST,
        "--port",
        str(mqtt_support.PORT),
        "--client-id",
        client_id,
        "--topic",
        f"{prefix}/vehicles/+/telemetry=json",
        "--topic",
        f"{prefix}/vehicles/+/gbt32960=gbt32960",
        "--max-wait",
        "0.1",
        "--max-messages",
        "100",
        "--ack-log",
        str(ack_log),
        "--idle-exit",
        "4",
    ]
    env = {**os.environ, "ONSHORE_JURISDICTION": "CN", "ONSHORE_INGEST_FAULT": fault}
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def _wait_for_subscription(log: Path, timeout: float) -> None:
    """The worker is subscribed (its session exists, so the broker keeps what comes next)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"subscribed to " in log.read_bytes():
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker did not subscribe within {timeout} s: {log.read_text()}")


def _wait_for_acks(ack_log: Path, at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ack_log.exists() and ack_log.read_bytes().count(b"\n") >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} acknowledged rows after {timeout} s")


@pytest.fixture()
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Mosquitto with the settings the README asks of an operator (bench/mosquitto.conf).

    With Mosquitto's default queue of 1,000 messages per client, a backlog built while the
    worker restarts is dropped by the broker (acknowledged to the publisher, never delivered),
    which is the broker's loss, not the worker's. Without the mosquitto binary the shared broker
    of ``mqtt_support`` is used as it is.
    """
    exe = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if exe is None:
        yield
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    settings = (Path(__file__).resolve().parents[2] / "bench" / "mosquitto.conf").read_text()
    conf.write_text(f"listener {port} 127.0.0.1\n{settings}")
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
        monkeypatch.setattr(mqtt_support, "HOST", "127.0.0.1")
        monkeypatch.setattr(mqtt_support, "PORT", port)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_kill_9_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, broker: None) -> None:
    require_broker()
    prefix, client_id = unique("onshore-crash"), unique("worker")
    home, ack_log, log = tmp_path / "home", tmp_path / "acked.tsv", tmp_path / "worker.log"
    published: set[tuple[str, int, str]] = set()
    done = threading.Event()

    def stream() -> None:
        pub = Publisher()
        from ingest_support import T0_MS

        gap = 2 * VEHICLES / RATE
        for second in range(SECONDS):
            started = time.monotonic()
            for i in range(VEHICLES):
                pub.publish(f"{prefix}/vehicles/{i}/telemetry", json_message(i, second))
                pub.publish(f"{prefix}/vehicles/{i}/gbt32960", gbt_frame(i, second))
                published.add((vin(i), T0_MS + second * 1000, "json"))
                published.add((vin(i), T0_MS + second * 1000, "gbt32960:2"))
            time.sleep(max(0.0, gap - (time.monotonic() - started)))
        time.sleep(1.0)
        pub.close()
        done.set()

    try:
        # First run: dies by SIGKILL right after its 5th batch reached the lake, before the
        # batch was confirmed and acknowledged (the narrowest window).
        worker = _start(home, prefix, client_id, ack_log, log, fault="kill-after-store:5")
        _wait_for_subscription(log, timeout=60)  # before the stream begins
        feeder = threading.Thread(target=stream)
        feeder.start()
        assert worker.wait(timeout=60) == -signal.SIGKILL
        kills = 1
        worker = _start(home, prefix, client_id, ack_log, log)
        # Then kill -9 from outside, wherever the worker happens to be.
        for threshold in (900, 1800):
            _wait_for_acks(ack_log, threshold, timeout=60)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = _start(home, prefix, client_id, ack_log, log)
        feeder.join(timeout=120)
        assert done.is_set()
        assert worker.wait(timeout=120) == 0, log.read_text()
    finally:
        forget_session(client_id, 5)

    acked = {tuple(line.split("\t")[:3]) for line in ack_log.read_text().splitlines()}
    acked_keys = {(v, int(t), k) for v, t, k in acked}
    with DataHome(home, environ={}) as data_home:
        stored: list[tuple[str, int, str]] = []
        for f in Lake(data_home).files():
            stored.extend(file_keys(data_home.store(f.store).root / f.path))
    assert kills == 3
    assert len(stored) == len(set(stored)), "a row was stored twice"
    assert acked_keys <= set(stored), "an acknowledged row is missing from the lake"
    assert set(stored) == published, "a published row was lost"
    assert '"found":' in log.read_text(), "the fault-injected batch was not recovered"
