"""Storage faults under a running MQTT worker (a real ``onshore ingest mqtt`` process and the
real broker): a full disk (a file-size limit set on the running process, writes fail with
EFBIG) and a revoked permission. The worker says so at once (log, status, ``onshore ingest
status`` exit 5), acknowledges nothing while the fault lasts, resumes by itself when it clears,
and stops within seconds on SIGTERM (exit 5); after a restart every message is stored once."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
import mqtt_support
from fault_support import ONSHORE, honouring_permissions
from ingest_support import json_message
from mqtt_support import Publisher, forget_session, require_broker, unique

from onshore.ingest.recovery import file_keys
from onshore.ingest.status import status_path
from onshore.store import DataHome, Lake

pytest.importorskip("paho.mqtt")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENV = {**os.environ, "ONSHORE_JURISDICTION": "CN", "ONSHORE_INGEST_FAULT": ""}
STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    """A failed test leaves no worker running."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


class Worker:
    def __init__(
        self,
        home: Path,
        prefix: str,
        client_id: str,
        log: Path,
        *,
        wrap: Callable[[list[str]], list[str]] = list,
        idle_exit: float | None = None,
    ) -> None:
        argv = [
            *ONSHORE, "ingest", "mqtt", "--home", str(home),
            "--host", mqtt_support.HOST, "--port", str(mqtt_support.PORT),
            "--client-id", client_id, "--topic", f"{prefix}/v/+/t=json",
            "--max-wait", "0.1", "--max-messages", "100",
            *(["--idle-exit", str(idle_exit)] if idle_exit else []),
        ]  # fmt: skip
        self.home, self.client_id, self.log = home, client_id, log
        self.proc = subprocess.Popen(
            wrap(argv), stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=ENV
        )
        STARTED.append(self.proc)
        self.wait_for(lambda: b"subscribed to " in log.read_bytes(), 30, "subscribe")

    def status(self) -> dict[str, object]:
        path = status_path(self.home, self.client_id)
        try:
            value = json.loads(path.read_bytes().strip() or b"{}")
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def acked(self) -> int:
        totals = self.status().get("totals")
        return int(totals.get("acked", 0)) if isinstance(totals, dict) else 0

    def wait_for(self, cond: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cond():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {seconds} s: {self.log.read_text()[-3000:]}")

    def terminate(self) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        return rc, time.monotonic() - started


def _publish(pub: Publisher, prefix: str, seconds: range, vehicles: int = 10) -> int:
    n = 0
    for second in seconds:
        for i in range(vehicles):
            pub.publish(f"{prefix}/v/{i}/t", json_message(i, second))
            n += 1
    return n


def _stored_keys(home: Path) -> list[tuple[str, int, str]]:
    with DataHome(home, environ={}) as data_home:
        out: list[tuple[str, int, str]] = []
        for f in Lake(data_home).files(dataset="telemetry"):
            out.extend(file_keys(data_home.store(f.store).root / f.path))
        return out


def _ingest_status(home: Path) -> subprocess.CompletedProcess[str]:
    argv = [*ONSHORE, "ingest", "status", "--home", str(home)]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60, check=False)


def _limit(pid: int, size: int) -> None:
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))


def test_a_full_disk_is_said_held_and_outlived(tmp_path: Path) -> None:
    require_broker()
    prefix, client_id = unique("onshore-fault"), unique("worker")
    home, log = tmp_path / "home", tmp_path / "worker.log"
    pub = Publisher()
    try:
        worker = Worker(home, prefix, client_id, log)
        sent = _publish(pub, prefix, range(5))
        worker.wait_for(lambda: worker.acked() == sent, 30, "first messages stored")

        # The disk fills (any write past 20 kB fails): said at once, nothing acknowledged.
        _limit(worker.proc.pid, 20_000)
        started = time.monotonic()
        sent += _publish(pub, prefix, range(5, 25))
        worker.wait_for(lambda: worker.status().get("state") == "storage-fault", 10, "fault")
        said_after = time.monotonic() - started
        assert said_after < 5, said_after
        assert b"storage fault, not acknowledging" in log.read_bytes()
        time.sleep(1.5)
        assert worker.acked() == 50
        shown = _ingest_status(home)
        assert shown.returncode == 5, shown.stdout + shown.stderr
        assert "storage-fault" in shown.stdout
        assert "storage fault" in shown.stderr and "disk I/O error" in shown.stderr

        # The disk has room again: ingest resumes by itself.
        _limit(worker.proc.pid, resource.RLIM_INFINITY)
        worker.wait_for(lambda: worker.acked() == sent, 30, "ingest resumed")
        assert worker.status().get("state") == "running"
        assert b"storage is back" in log.read_bytes()

        # Full again, then SIGTERM: the worker stops within seconds, exit 5, one line.
        _limit(worker.proc.pid, 20_000)
        sent += _publish(pub, prefix, range(25, 35))
        worker.wait_for(lambda: worker.status().get("state") == "storage-fault", 10, "fault")
        rc, took = worker.terminate()
        assert rc == 5 and took < 5, (rc, took, log.read_text()[-2000:])
        print(f"fault said after {said_after:.2f} s; SIGTERM to exit {took:.2f} s")
        assert "stopped during a storage fault" in log.read_text()

        # A restart with room stores what was held, and everything once.
        again = Worker(home, prefix, client_id, log, idle_exit=3)
        assert again.proc.wait(timeout=60) == 0, log.read_text()[-2000:]
        keys = _stored_keys(home)
        assert len(keys) == len(set(keys)) == sent == 350
        verify = subprocess.run(
            [*ONSHORE, "ledger", "verify", "--home", str(home)],
            capture_output=True, text=True, env=ENV, timeout=60, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert not list(home.rglob("quarantine/ingest-*.jsonl"))
    finally:
        pub.close()
        forget_session(client_id, 5)


def test_a_revoked_permission_is_said_held_and_outlived(tmp_path: Path) -> None:
    require_broker()
    prefix, client_id = unique("onshore-fault"), unique("worker")
    home, log = tmp_path / "home", tmp_path / "worker.log"
    pub = Publisher()
    folders: list[Path] = []
    try:
        worker = Worker(home, prefix, client_id, log, wrap=honouring_permissions)
        sent = _publish(pub, prefix, range(3))
        worker.wait_for(lambda: worker.acked() == sent, 30, "first messages stored")
        folders = [p for p in (home / "lake").rglob("*") if p.is_dir()] + [home / "lake"]
        for folder in folders:
            folder.chmod(0o500)
        sent += _publish(pub, prefix, range(3, 8))
        worker.wait_for(lambda: worker.status().get("state") == "storage-fault", 10, "fault")
        assert "permission denied" in str(worker.status().get("last_error"))
        assert worker.acked() == 30
        for folder in folders:
            folder.chmod(0o700)
        worker.wait_for(lambda: worker.acked() == sent, 30, "ingest resumed")
        rc, took = worker.terminate()
        assert rc == 0 and took < 5, (rc, took)
        keys = _stored_keys(home)
        assert len(keys) == len(set(keys)) == sent == 80
    finally:
        for folder in folders:
            folder.chmod(0o700)
        pub.close()
        forget_session(client_id, 5)
