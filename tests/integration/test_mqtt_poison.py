"""No content of a message can stop the worker or block its batch: through the real worker
and the real Mosquitto, streams that mix good messages with anything a fleet might send (any
bytes, JSON of any shape, times out of range, wrong types, mutated and truncated GB/T 32960
frames). Every message ends in exactly one place: its rows stored once, or the message
quarantined with its reason (found by its SHA-256), or a known duplicate."""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_support import T0_MS, gbt_frame, json_message
from mqtt_support import HOST, PORT, Publisher, forget_session, require_broker, unique

from onshore.ingest import (
    BatchPolicy,
    Ingestor,
    MqttSettings,
    MqttWorker,
    Route,
    decode_gbt32960,
    decode_json,
)
from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake

pytest.importorskip("paho.mqtt")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What the issue found (a valid JSON message with a ts past year 9999 crashed the worker).
ISSUE_POISON = [
    b'{"vin": "LSVPOISON00000001", "ts": 253402300800000}',
    b'{"vin": "LSVPOISON00000002", "ts": -99999999999999999999}',
    b'{"vin": 12, "ts": "yesterday"}',
    b'{"vin": "LSVPOISON00000003", "ts": [1, 2]}',
    b'[{"vin": "LSVPOISON00000004"}, 5]',
    b"[1, 2, 3]",
    b"\xff\xfe\x00 not utf-8",
    b"{" * 100_000,
    b"x" * 2_000_000,
    b'{"vin": "LSVPOISON00000005", "ts": 1e400}',
    b'{"vin": "LSVPOISON00000006", "ts": "9999-12-31T23:59:59.999+00:00"}',
    b'{"vin": "", "ts": 1767225600000}',
    b"",
    b"null",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bad_json = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(ISSUE_POISON),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"vin": st.just("LSVPOISON99999999"), "ts": json_values | st.integers()}
    ).map(lambda d: json.dumps(d).encode()),
)
odd_fields = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=6).map(lambda s: f"x_{s}"), json_values, max_size=4
)


def _mutated(frame: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "random"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(frame) - 1))
        return frame[:i] + bytes([frame[i] ^ data.draw(st.integers(1, 255))]) + frame[i + 1 :]
    if kind == "truncate":
        return frame[: data.draw(st.integers(0, len(frame) - 1))]
    if kind == "extend":
        return frame + data.draw(st.binary(min_size=1, max_size=30))
    return data.draw(st.binary(max_size=120))


def _lake_keys(home: DataHome) -> Counter[tuple[str, int, str]]:
    out: Counter[tuple[str, int, str]] = Counter()
    for f in Lake(home).files():
        out.update(file_keys(home.store(f.store).root / f.path))
    return out


def _rows_quarantined(home: DataHome) -> set[tuple[str, int]]:
    """``(vin, ts)`` of the rows the pipeline quarantined (a VIN that does not check out, a
    coordinate that is not a number): ``HOME/quarantine/DATASET-TIME.jsonl``."""
    out = set()
    for path in (home.path / "quarantine").glob("*.jsonl"):
        if path.name.startswith("ingest-"):
            continue
        for line in path.read_text().splitlines():
            record = json.loads(line)["record"]
            ts = datetime.fromisoformat(record["ts"])
            out.add((record["vin"], (ts - EPOCH) // timedelta(milliseconds=1)))
    return out


def _quarantined(home: DataHome) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in (home.path / "quarantine").glob("ingest-*.jsonl"):
        for line in path.read_text().splitlines():
            out[json.loads(line)["sha256"]] += 1
    return out


def test_poison_never_stops_the_worker_and_every_message_ends_in_one_place(
    tmp_path: Path,
) -> None:
    require_broker()
    prefix, client_id = unique("onshore-poison"), unique("worker")
    routes = [
        Route(f"{prefix}/v/+/t", "json", "telemetry"),
        Route(f"{prefix}/v/+/g", "gbt32960", "gbt32960"),
    ]
    settings_ = MqttSettings(HOST, PORT, client_id, 5, session_expiry=300)
    seconds = itertools.count(10_000)
    expected_keys: Counter[tuple[str, int, str]] = Counter()
    expected_quarantine: Counter[str] = Counter()
    published = 0
    pub = Publisher()
    try:
        with DataHome(tmp_path / "home", environ={}) as home:
            worker = MqttWorker(
                Ingestor(home, worker=client_id),
                routes,
                settings_,
                BatchPolicy(max_messages=500, max_wait=0.1),
            )
            worker.connect()
            errors: list[BaseException] = []

            def run() -> None:
                try:
                    worker.run(stop)
                except BaseException as exc:  # the test fails on any
                    errors.append(exc)

            stop = threading.Event()
            thread = threading.Thread(target=run, daemon=True)
            thread.start()

            def send(stream: list[tuple[str, bytes]]) -> None:
                nonlocal published
                for topic, payload in stream:
                    fmt = "json" if topic.endswith("/t") else "gbt32960"
                    decoded = (decode_json if fmt == "json" else decode_gbt32960)([payload])
                    if decoded.rejected:
                        expected_quarantine[hashlib.sha256(payload).hexdigest()] += 1
                    for key in decoded.keys:
                        expected_keys[key] = 1  # once, however often it is sent
                    pub.publish(f"{prefix}/v/0/{topic[-1]}", payload)
                    published += 1
                deadline = time.monotonic() + 60
                while worker.stats.acked < published and time.monotonic() < deadline:
                    assert not errors, errors
                    time.sleep(0.05)
                assert not errors, errors
                assert thread.is_alive()
                assert worker.stats.acked == published
                stored, rows_out = _lake_keys(home), _rows_quarantined(home)
                assert set(stored.values()) <= {1}  # stored once
                assert set(stored) <= set(expected_keys)
                for key in expected_keys:  # each row stored, or quarantined by the pipeline
                    assert (key in stored) != ((key[0], key[1]) in rows_out), key
                assert _quarantined(home) == expected_quarantine

            # The issue's mix: 200 good messages among the poison, all in the same batches.
            good = [("/t", json_message(i, next(seconds))) for i in range(200)]
            poison = [("/t", p) for p in ISSUE_POISON]
            send([m for pair in itertools.zip_longest(good, poison) for m in pair if m])
            assert worker.stats.stored == 200 and worker.stats.rejected == len(ISSUE_POISON)

            @settings(
                max_examples=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(data=st.data())
            def mixed_streams(data: st.DataObject) -> None:
                stream: list[tuple[str, bytes]] = []
                for _ in range(data.draw(st.integers(1, 25))):
                    i, second = data.draw(st.integers(0, 50)), next(seconds)
                    kind = data.draw(st.sampled_from(["good", "odd", "bad", "frame", "mutant"]))
                    if kind == "good":
                        stream.append(("/t", json_message(i, second)))
                    elif kind == "odd":
                        stream.append(("/t", json_message(i, second, **data.draw(odd_fields))))
                    elif kind == "bad":
                        stream.append(("/t", data.draw(bad_json)))
                    elif kind == "frame":
                        stream.append(("/g", gbt_frame(i, second)))
                    else:
                        stream.append(("/g", _mutated(gbt_frame(i, second), data)))
                send(stream)

            mixed_streams()
            stop.set()
            thread.join(timeout=30)
            worker.close()
            assert T0_MS and not errors
    finally:
        pub.close()
        forget_session(client_id, 5)
