"""The MQTT worker against the real Mosquitto (MQTT 5 and 3.1.1): routing, batching, the
pipeline, quarantine, and idempotent redelivery."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_support import gbt_frame, json_message
from mqtt_support import HOST, PORT, Publisher, forget_session, require_broker, unique

from onshore.app.ingest import ingest
from onshore.ingest import BatchPolicy, Ingestor, MqttSettings, MqttWorker, Route
from onshore.ingest.recovery import file_keys
from onshore.ledger import Activity
from onshore.store import DataHome, Lake

pytest.importorskip("paho.mqtt")
pytestmark = pytest.mark.integration


def lake_keys(home: DataHome, dataset: str) -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for f in Lake(home).files(dataset=dataset):
        out.extend(file_keys(home.store(f.store).root / f.path))
    return out


@pytest.mark.parametrize("protocol", [5, 311])
def test_worker_stores_routes_and_quarantines(tmp_path: Path, protocol: int) -> None:
    require_broker()
    prefix = unique("onshore-test")
    client_id = unique("worker")
    routes = [
        Route(f"{prefix}/vehicles/+/telemetry", "json", "telemetry"),
        Route(f"{prefix}/vehicles/+/gbt32960", "gbt32960", "gbt32960"),
    ]
    settings = MqttSettings(HOST, PORT, client_id, protocol, session_expiry=120)
    try:
        with DataHome(tmp_path / "home", environ={}) as home:
            worker = MqttWorker(
                Ingestor(home, worker=client_id),
                routes,
                settings,
                BatchPolicy(max_messages=50, max_wait=0.1),
            )
            worker.connect()
            thread = threading.Thread(target=worker.run, kwargs={"idle_exit": 1.5})
            thread.start()
            pub = Publisher()
            for second in range(3):
                for i in range(20):
                    pub.publish(f"{prefix}/vehicles/{i}/telemetry", json_message(i, second))
                    pub.publish(f"{prefix}/vehicles/{i}/gbt32960", gbt_frame(i, second))
            pub.publish(f"{prefix}/vehicles/0/telemetry", json_message(0, 0))  # a duplicate
            pub.publish(f"{prefix}/vehicles/0/telemetry", b"{not json")
            pub.publish(f"{prefix}/vehicles/0/gbt32960", b"##garbage")
            thread.join(timeout=60)
            pub.close()
            worker.close()
            assert not thread.is_alive()
            tele, gbt = lake_keys(home, "telemetry"), lake_keys(home, "gbt32960")
            assert len(tele) == len(set(tele)) == 60
            assert len(gbt) == len(set(gbt)) == 60
            stats = worker.stats
            assert (stats.messages, stats.duplicates, stats.rejected) == (123, 1, 2)
            assert stats.acked == 123
            quarantined = (home.path / "quarantine").glob("ingest-*.jsonl")
            assert sum(len(p.read_text().splitlines()) for p in quarantined) == 2
            kinds = [e.kind for _i, e in home.ledger.entries()]
            assert kinds.count(Activity.STORAGE) >= 2
    finally:
        forget_session(client_id, protocol)


def test_unacknowledged_messages_are_redelivered_and_stored_once(tmp_path: Path) -> None:
    """A worker stops without acknowledging; a new one on the same session gets the messages
    again, and the key index drops what the first had already stored."""
    require_broker()
    prefix = unique("onshore-test")
    client_id = unique("worker")
    route = Route(f"{prefix}/v/+/t", "json", "telemetry")
    settings = MqttSettings(HOST, PORT, client_id, 5, session_expiry=120)
    try:
        with DataHome(tmp_path / "home", environ={}) as home:
            first = MqttWorker(Ingestor(home, worker=client_id), [route], settings)
            first.connect()
            pub = Publisher()
            for i in range(30):
                pub.publish(f"{prefix}/v/{i}/t", json_message(i, 0))
            deadline = time.monotonic() + 10
            msgs = []
            while len(msgs) < 30 and time.monotonic() < deadline:
                msgs += first._client.take(0.05)
            assert len(msgs) == 30
            unacked = ingest(home, [first.delivery(msgs[:20])], ack=lambda _r: None,
                             ingestor=first.ingestor)  # fmt: skip
            assert unacked.stored == 20  # stored, never acknowledged
            first.close()
            second = MqttWorker(Ingestor(home, worker=client_id), [route], settings)
            second.connect()
            second.run(idle_exit=1.5)
            second.close()
            pub.close()
            keys = lake_keys(home, "telemetry")
            assert len(keys) == len(set(keys)) == 30
            assert second.stats.messages == 30 and second.stats.duplicates == 20
    finally:
        forget_session(client_id, 5)
