"""Several workers on one key index (one metadata database): a row claimed by a live worker's
batch in progress is neither stored nor taken for a duplicate by another; a dead worker's
pending batch is taken over and settled against the lake, once; the same worker id cannot run
twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_support import T0_MS, json_message, vin

from onshore.errors import BadInput, KeyContested
from onshore.ingest import Ingestor, KeyIndex
from onshore.ingest.keys import Heartbeat
from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake


def _keys(first: int, last: int) -> list[tuple[str, int, str]]:
    return [(vin(i), T0_MS, "json") for i in range(first, last)]


PG_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def homes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DataHome, DataHome]]:
    """Two processes' views of one data home: two connections to one SQLite file, or to one
    PostgreSQL schema (its own, dropped afterwards)."""
    db = None
    if request.param == "postgresql":
        psycopg = pytest.importorskip("psycopg")
        try:
            psycopg.connect(PG_URL, connect_timeout=5).close()
        except psycopg.Error as exc:
            if os.environ.get("ONSHORE_CI"):
                raise
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        schema = f"onshore_index_{uuid.uuid4().hex[:12]}"
        db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    try:
        with (
            DataHome(tmp_path / "home", db=db, environ={}) as a,
            DataHome(tmp_path / "home", db=db, environ={}) as b,
        ):
            yield a, b
    finally:
        if db is not None:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _dead(index: KeyIndex, worker: str) -> None:
    """``worker`` last beat long ago (as a worker that died a minute ago would have)."""
    index.meta.execute("UPDATE ingest_workers SET seen_at = 0 WHERE worker = ?", (worker,))


def test_a_live_workers_pending_keys_are_contested(homes: tuple[DataHome, DataHome]) -> None:
    a, b = (KeyIndex(h, w) for h, w in zip(homes, "ab", strict=True))
    a.beat()
    b.beat()
    held = a.claim("telemetry", "p", _keys(0, 3))
    assert held.new == [True] * 3
    with pytest.raises(KeyContested, match="held by a batch in progress of a"):
        b.claim("telemetry", "p", _keys(1, 5))
    # The contested claim was withdrawn: nothing of b's is in the index.
    assert b.meta.query("SELECT COUNT(*) FROM ingest_batches WHERE worker = 'b'") == [(0,)]
    assert b.pending() == []
    a.stored(held.batch, ["f"])
    again = b.claim("telemetry", "p", _keys(1, 5))
    assert again.new == [False, False, True, True]


def test_a_released_batchs_keys_are_claimed_again(homes: tuple[DataHome, DataHome]) -> None:
    a, b = (KeyIndex(h, w) for h, w in zip(homes, "ab", strict=True))
    a.beat()
    held = a.claim("telemetry", "p", _keys(0, 2))
    a.release(held.batch)  # the pipeline refused it, or stored nothing
    assert b.claim("telemetry", "p", _keys(0, 2)).new == [True, True]


def test_a_dead_workers_unstored_batch_is_taken_over_and_released(
    homes: tuple[DataHome, DataHome],
) -> None:
    a, b = (KeyIndex(h, w) for h, w in zip(homes, "ab", strict=True))
    a.beat()
    b.beat()
    held = a.claim("telemetry", "p", _keys(0, 4))
    _dead(b, "a")
    claim = b.claim("telemetry", "p", _keys(2, 6))
    assert claim.new == [True] * 4  # nothing of a's batch reached the lake
    assert b.taken_over == [held.batch]
    assert a.pending() == [] and b.pending()[0].batch == claim.batch
    # a's keys 0 and 1 are free again, for whoever gets their messages.
    assert b.holders("telemetry", set(_keys(0, 2))) == {}


def test_the_same_worker_id_cannot_run_twice(homes: tuple[DataHome, DataHome]) -> None:
    first, second = (KeyIndex(h, "mqtt://broker/w1") for h in homes)
    first.meta.execute(
        "INSERT INTO ingest_workers (worker, host, pid, seen_at) VALUES (?, ?, ?, ?)",
        ("mqtt://broker/w1", "another-host", 4242, time.time()),
    )
    with pytest.raises(BadInput, match="already runs as pid 4242 on another-host"):
        second.check_alone()
    _dead(first, "mqtt://broker/w1")
    second.check_alone()  # gone for longer than takeover_after


def test_the_heartbeat_beats_from_its_own_thread(homes: tuple[DataHome, DataHome]) -> None:
    a, b = (KeyIndex(h, w) for h, w in zip(homes, "ab", strict=True))
    beat = Heartbeat(a, interval=0.05)
    try:
        assert b.alive("a")
        _dead(b, "a")
        assert not b.alive("a")
        for _ in range(200):
            if b.alive("a"):
                break
            time.sleep(0.02)
        assert b.alive("a")
    finally:
        beat.close()


CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {support!r})
from ingest_support import json_message
from onshore.ingest import Ingestor
from onshore.store import DataHome
home = DataHome(Path({home!r}), environ={{"ONSHORE_INGEST_FAULT": "kill-after-store:1"}})
ingestor = Ingestor(home, worker="dies")
ingestor.index.beat()
ingestor.ingest("telemetry", "json", [json_message(i, 0) for i in range(6)])
"""


def test_a_batch_a_dead_worker_stored_is_a_duplicate_for_the_next(tmp_path: Path) -> None:
    """Worker "dies" is killed (SIGKILL) once its batch is in the lake but not confirmed; the
    broker redelivers the messages to worker "next", which settles the dead worker's batch
    against the lake and stores nothing twice."""
    home = tmp_path / "home"
    script = CHILD.format(support=str(Path(__file__).parent), home=str(home))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == -9, done.stderr.decode()
    with DataHome(home, environ={}) as h:
        assert [p.batch for p in KeyIndex(h, "dies").pending()]  # left half done
        nxt = Ingestor(h, worker="next")
        outcome = nxt.ingest("telemetry", "json", [json_message(i, 0) for i in range(8)])
        assert (outcome.stored, outcome.duplicates) == (2, 6)
        assert len(nxt.index.taken_over) == 1 and KeyIndex(h, "dies").pending() == []
        stored = [k for f in Lake(h).files() for k in file_keys(h.store(f.store).root / f.path)]
    assert sorted(stored) == sorted(_keys(0, 8))


def test_a_worker_that_stood_still_past_a_takeover_learns_of_it(
    homes: tuple[DataHome, DataHome], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = (KeyIndex(h, w) for h, w in zip(homes, "ab", strict=True))
    a.beat()
    held = a.claim("telemetry", "p", _keys(0, 2))
    _dead(b, "a")  # a stood still (suspended) past takeover_after
    assert b.settle_dead() == [held.batch]
    with caplog.at_level("ERROR", logger="onshore.ingest"):
        a.stored(held.batch, ["dataset=telemetry/date=2026-03-02/part-x.parquet"])
    assert "was taken over by another worker" in caplog.text
    assert a.meta.query("SELECT COUNT(*) FROM ingest_batches") == [(0,)]


def test_a_runner_that_never_beats_is_given_the_takeover_time(
    homes: tuple[DataHome, DataHome],
) -> None:
    """The HTTP service claims without a heartbeat: its batch in progress is contested, never
    taken over, until it is older than ``takeover_after``."""
    service, worker = KeyIndex(homes[0], "onshore-serve-host-1"), KeyIndex(homes[1], "w")
    worker.beat()
    held = service.claim("telemetry", "p", _keys(0, 2))
    with pytest.raises(KeyContested):
        worker.claim("telemetry", "p", _keys(0, 2))
    assert worker.taken_over == []
    service.meta.execute(
        "UPDATE ingest_batches SET started_at = '2020-01-01T00:00:00.000Z' WHERE id = ?",
        (held.batch,),
    )
    assert worker.claim("telemetry", "p", _keys(0, 2)).new == [True, True]
    assert worker.taken_over == [held.batch]


def test_a_dead_workers_pid_in_use_again_is_not_the_worker(
    homes: tuple[DataHome, DataHome],
) -> None:
    """A worker of this host that died: its pid now runs another process (pids are reused),
    which is told apart by when it started."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        index = KeyIndex(homes[0], "w")
        row = "INSERT INTO ingest_workers VALUES (?, ?, ?, ?, ?)"
        index.meta.execute(row, ("w", socket.gethostname(), other.pid, time.time(), "1"))
        index.check_alone()  # the pid runs, but not the process that beat
        assert not KeyIndex(homes[1], "x").alive("w")
        started = Path(f"/proc/{other.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        index.meta.execute("UPDATE ingest_workers SET process = ? WHERE worker = 'w'", (started,))
        with pytest.raises(BadInput, match="already runs"):
            index.check_alone()
        assert KeyIndex(homes[1], "x").alive("w")
    finally:
        other.kill()
        other.wait()
