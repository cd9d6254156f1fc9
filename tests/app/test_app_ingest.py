"""The ingest use case from a consumer loop: an in-memory source of Arrow batches (a Python
iterator, as a Kafka or Pulsar consumer would hand them over), each acknowledged only once its
rows are in the lake, in order; a redelivered batch is stored once; a storage fault
acknowledges nothing until the batch is stored; a batch that is not canonical is quarantined
and acknowledged, and the stream goes on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from onshore.app import Delivery, Messages, Receipt, ingest
from onshore.errors import BadInput, StorageError
from onshore.ingest import KeyIndex
from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def vin(i: int) -> str:
    return f"LSVAU2180N2{i:06d}"


def batch(first: int, rows: int, second: int = 0) -> pa.RecordBatch:
    """Vehicles ``first`` … ``first + rows - 1`` at ``T0 + second``."""
    return pa.RecordBatch.from_pydict(
        {
            "vin": [vin(i) for i in range(first, first + rows)],
            "ts": pa.array([T0 + timedelta(seconds=second)] * rows, pa.timestamp("ms", "UTC")),
            "lat": [39.9 + i * 1e-4 for i in range(rows)],
            "lon": [116.4] * rows,
            "soc": [80.5] * rows,
        }
    )


def stored_keys(home: DataHome) -> list[tuple[str, int, str]]:
    return [k for f in Lake(home).files() for k in file_keys(home.store(f.store).root / f.path)]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[DataHome]:
    with DataHome(tmp_path / "home", environ={"ONSHORE_JURISDICTION": "CN"}) as h:
        yield h


class Consumer:
    """A consumer of an in-memory topic: partition 0, offsets from 0; ``commit`` records what
    was acknowledged and checks, at that moment, that the rows are in the lake."""

    def __init__(self, home: DataHome, batches: list[pa.RecordBatch]) -> None:
        self.home = home
        self.batches = batches
        self.committed: list[int] = []
        self.polled = 0

    def __iter__(self) -> Iterator[Delivery]:
        for offset, b in enumerate(self.batches):
            self.polled += 1
            yield Delivery.of_rows("telemetry", b, token=offset)

    def commit(self, receipt: Receipt) -> None:
        offset = receipt.token
        self.committed.append(offset)
        if any(o.refused for o in receipt.outcomes):
            return  # quarantined (checked by the test)
        in_lake = set(stored_keys(self.home))
        rows = self.batches[offset]
        for v, t in zip(
            rows.column("vin").to_pylist(),
            rows.column("ts").cast(pa.int64()).to_pylist(),
            strict=True,
        ):
            assert (v, t, "json") in in_lake, f"offset {offset} acknowledged before it was stored"


def test_each_batch_is_acknowledged_in_order_once_stored(home: DataHome) -> None:
    consumer = Consumer(home, [batch(0, 5), batch(5, 5), batch(0, 3, second=1)])
    result = ingest(home, consumer, ack=consumer.commit, worker="kafka:telemetry:0")
    assert consumer.committed == [0, 1, 2]
    assert (result.deliveries, result.rows, result.stored, result.duplicates) == (3, 13, 13, 0)
    keys = stored_keys(home)
    assert len(keys) == len(set(keys)) == 13


def test_a_redelivered_stream_is_stored_once(home: DataHome) -> None:
    batches = [batch(0, 4), batch(4, 4)]
    first = Consumer(home, batches)
    ingest(home, first, ack=first.commit, worker="c1")
    # The consumer restarts from an older offset (its commit was lost): same rows again,
    # this time through another consumer of the group.
    again = Consumer(home, [batch(2, 4), *batches])
    result = ingest(home, again, ack=again.commit, worker="c2")
    assert again.committed == [0, 1, 2]
    assert (result.stored, result.duplicates) == (0, 12)
    assert sorted(stored_keys(home)) == sorted(
        (vin(i), int(T0.timestamp() * 1000), "json") for i in range(8)
    )


def test_a_storage_fault_acknowledges_nothing_until_the_batch_is_stored(
    home: DataHome,
) -> None:
    consumer = Consumer(home, [batch(0, 3), batch(3, 3)])
    lake = home.store().root
    lake.mkdir(parents=True, exist_ok=True)
    blocker = lake / "dataset=telemetry"
    blocker.write_text("not a folder")  # the dataset's folder cannot be made
    faults: list[tuple[str, int, list[int]]] = []

    def on_fault(exc: StorageError, attempt: int) -> float | None:
        faults.append((type(exc).__name__, attempt, list(consumer.committed)))
        if attempt == 2:
            blocker.unlink()  # the operator fixes it
        return 0.0

    result = ingest(home, consumer, ack=consumer.commit, on_fault=on_fault)
    assert [f[1] for f in faults] == [1, 2]
    assert all(f[2] == [] for f in faults), "acknowledged during the fault"
    assert consumer.committed == [0, 1] and result.storage_retries == 2
    assert len(stored_keys(home)) == 6


def test_without_on_fault_a_storage_fault_is_raised_and_nothing_acknowledged(
    home: DataHome,
) -> None:
    lake = home.store().root
    lake.mkdir(parents=True, exist_ok=True)
    (lake / "dataset=telemetry").write_text("not a folder")
    consumer = Consumer(home, [batch(0, 3)])
    with pytest.raises(StorageError):
        ingest(home, consumer, ack=consumer.commit)
    assert consumer.committed == []


def test_a_batch_that_is_not_canonical_is_quarantined_and_the_stream_goes_on(
    home: DataHome,
) -> None:
    bad = pa.RecordBatch.from_pydict({"vin": [vin(1)], "speed": [3.0]})  # no ts
    consumer = Consumer(home, [batch(0, 2), bad, batch(2, 2)])
    result = ingest(home, consumer, ack=consumer.commit)
    assert consumer.committed == [0, 1, 2]
    assert (result.stored, result.rejected) == (4, 1)
    lines = (home.path / "quarantine" / "ingest-telemetry.jsonl").read_text().splitlines()
    line = json.loads(lines[-1])
    assert (
        line["format"] == "arrow" and line["field"] == "ts" and "no 'ts' column" in line["reason"]
    )
    with pa.ipc.open_stream(bytes.fromhex(line["payload_hex"])) as reader:
        assert reader.read_all().column("vin").to_pylist() == [vin(1)]


def test_raw_messages_and_rows_in_one_delivery(home: DataHome) -> None:
    message = json.dumps({"vin": vin(9), "ts": int(T0.timestamp() * 1000)}).encode()
    delivery = Delivery((Messages("telemetry", "json", [message, b"not json"]),), token="poll-1")
    acked: list[Receipt] = []
    result = ingest(home, [delivery], ack=acked.append)
    assert [r.token for r in acked] == ["poll-1"]
    assert (result.stored, result.rejected) == (1, 1)


def test_a_consumer_name_a_live_process_holds_is_refused(home: DataHome) -> None:
    KeyIndex(home, "kafka/0").meta.execute(
        "INSERT INTO ingest_workers (worker, host, pid, seen_at) VALUES (?, ?, ?, ?)",
        ("kafka/0", "another-host", 99, time.time()),
    )
    consumer = Consumer(home, [batch(0, 1)])
    with pytest.raises(BadInput, match="already runs as pid 99 on another-host"):
        ingest(home, consumer, ack=consumer.commit, worker="kafka/0")
    assert consumer.polled == 0 and consumer.committed == []
