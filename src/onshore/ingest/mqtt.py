"""The MQTT worker: subscribe, batch by size and time, ingest, then acknowledge.

QoS 1 messages are acknowledged by hand (paho-mqtt's ``manual_ack``) and only after
:meth:`~onshore.ingest.batch.Ingestor.ingest` has returned, that is once every message of the
batch is durably stored, quarantined or known to be a duplicate. The session is persistent
(MQTT 5: ``clean_start=False`` with a session expiry; 3.1.1: ``clean_session=False``), so a
worker that dies loses nothing: the broker redelivers what was not acknowledged and the key
index drops what had been stored. Acknowledgements go out in the order messages came in.

MQTT 5 asks the broker for a Receive Maximum of 65,535 unacknowledged messages, which lets a
batch grow to thousands of messages. Under 3.1.1 the broker's own limit applies (Mosquitto's
``max_inflight_messages``, 20 by default): batches stay that small unless it is raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from onshore.errors import BadInput, StorageError
from onshore.ingest.batch import FORMATS, BatchOutcome, Ingestor
from onshore.ingest.quarantine import QuarantinedMessage

DEFAULT_DATASETS = {"json": "telemetry", "gbt32960": "gbt32960"}


@dataclass(frozen=True)
class Route:
    """A topic filter, the format of its messages and the dataset they go to."""

    pattern: str
    fmt: str
    dataset: str

    @classmethod
    def parse(cls, text: str) -> Route:
        """``PATTERN=FORMAT[:DATASET]``, e.g. ``vehicles/+/gbt32960=gbt32960:ev_reports``.

        >>> Route.parse("vehicles/+/telemetry=json")
        Route(pattern='vehicles/+/telemetry', fmt='json', dataset='telemetry')
        """
        pattern, sep, rest = text.rpartition("=")
        fmt, _, dataset = rest.partition(":")
        if not sep or not pattern or fmt not in FORMATS:
            raise BadInput(
                f"bad topic {text!r}: PATTERN=FORMAT[:DATASET], FORMAT one of {', '.join(FORMATS)}",
                field="topic",
            )
        return cls(pattern, fmt, dataset or DEFAULT_DATASETS[fmt])


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and how to hold the session."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "onshore-ingest"
    protocol: int = 5  # 5 or 311
    keepalive: int = 30
    session_expiry: int = 7 * 24 * 3600
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class BatchPolicy:
    """A batch is ingested when it holds ``max_messages`` or ``max_bytes``, or is ``max_wait``
    seconds old."""

    max_messages: int = 5_000
    max_bytes: int = 16 << 20
    max_wait: float = 0.5


@dataclass
class WorkerStats:
    """Running totals of a worker."""

    messages: int = 0
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    acked: int = 0
    failures: int = 0
    started: float = field(default_factory=time.time)

    def add(self, outcome: BatchOutcome) -> None:
        self.rows += outcome.rows
        self.stored += outcome.stored
        self.duplicates += outcome.duplicates
        self.rejected += outcome.rejected

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "started"} | {
            "seconds": round(time.time() - self.started, 3)
        }


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int


class MqttWorker:
    """Subscribes to ``routes`` and feeds ``ingestor``; see the module doc."""

    def __init__(
        self,
        ingestor: Ingestor,
        routes: list[Route],
        settings: MqttSettings | None = None,
        policy: BatchPolicy | None = None,
        *,
        ack_log: Path | None = None,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        if not routes:
            raise BadInput("give at least one --topic", field="topic")
        self.ingestor = ingestor
        self.routes = routes
        self.settings = settings or MqttSettings()
        self.policy = policy or BatchPolicy()
        self.on_batch = on_batch
        self.stats = WorkerStats()
        self._ack_log: TextIO | None = open(ack_log, "a", encoding="utf-8") if ack_log else None  # noqa: SIM115
        self._inbox: queue.Queue[_Message] = queue.Queue()
        self._connected = threading.Event()
        self._client = self._make_client()

    # -- the broker -------------------------------------------------------------------------
    def _make_client(self) -> Any:
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise BadInput("the MQTT worker needs paho-mqtt: pip install 'onshore[mqtt]'") from exc
        s = self.settings
        if s.protocol == 5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        elif s.protocol == 311:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        else:
            raise BadInput(f"MQTT protocol {s.protocol}: 5 or 311", field="protocol")
        if s.username:
            client.username_pw_set(s.username, s.password)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self._connected.clear()
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            return
        client.subscribe([(r.pattern, 1) for r in self.routes])
        self._connected.set()

    def _on_message(self, _client: Any, _u: Any, msg: Any) -> None:
        self._inbox.put(_Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    def connect(self, timeout: float = 10.0) -> None:
        """Connect (persistent session) and start the network thread."""
        s = self.settings
        try:
            if s.protocol == 5:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = s.session_expiry
                props.ReceiveMaximum = 65_535
                self._client.connect(
                    s.host, s.port, s.keepalive, clean_start=False, properties=props
                )
            else:
                self._client.connect(s.host, s.port, s.keepalive)
        except OSError as exc:
            raise StorageError(f"cannot reach the MQTT broker {s.host}:{s.port}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.loop_stop()
            raise StorageError(f"the MQTT broker {s.host}:{s.port} did not accept the session")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        if self._ack_log is not None:
            self._ack_log.close()

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> None:
        """Batch and ingest until ``stop`` is set (or nothing came for ``idle_exit`` seconds)."""
        stop = stop or threading.Event()
        buffer: list[_Message] = []
        size = 0
        first = last = time.monotonic()
        while not stop.is_set():
            wait = self.policy.max_wait - (time.monotonic() - first) if buffer else 0.2
            try:
                msg = self._inbox.get(timeout=max(wait, 0.001))
                if not buffer:
                    first = time.monotonic()
                buffer.append(msg)
                size += len(msg.payload)
                last = time.monotonic()
            except queue.Empty:
                if idle_exit is not None and not buffer and time.monotonic() - last > idle_exit:
                    break
            full = len(buffer) >= self.policy.max_messages or size >= self.policy.max_bytes
            if buffer and (full or time.monotonic() - first >= self.policy.max_wait):
                self._flush(buffer)
                buffer, size = [], 0
        if buffer:
            self._flush(buffer)

    def _flush(self, buffer: list[_Message]) -> None:
        """Ingest ``buffer`` (retrying storage failures) and acknowledge it, in order."""
        delay = 0.5
        while True:
            try:
                outcomes = self._ingest(buffer)
                break
            except StorageError:
                self.stats.failures += 1
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
        if self._ack_log is not None:
            now = time.time()
            lines = [f"{v}\t{t}\t{k}\t{now:.3f}\n" for o in outcomes for v, t, k in o.keys]
            self._ack_log.write("".join(lines))
            self._ack_log.flush()
        for msg in buffer:
            if msg.qos:
                self._client.ack(msg.mid, msg.qos)
        self.stats.acked += len(buffer)
        self.stats.batches += 1
        self.stats.messages += len(buffer)

    def _route(self, topic: str) -> Route | None:
        from paho.mqtt.client import topic_matches_sub

        for route in self.routes:
            if topic_matches_sub(route.pattern, topic):
                return route
        return None

    def _ingest(self, buffer: list[_Message]) -> list[BatchOutcome]:
        groups: dict[Route, list[_Message]] = {}
        lost: list[_Message] = []
        for msg in buffer:
            route = self._route(msg.topic)
            (groups.setdefault(route, []) if route else lost).append(msg)
        self.ingestor.quarantine.put(
            [QuarantinedMessage(m.topic, "unrouted", "?", "no route", m.payload) for m in lost],
            self.ingestor.home.now(),
        )
        outcomes = []
        for route, msgs in groups.items():
            outcome = self.ingestor.ingest(
                route.dataset, route.fmt, [m.payload for m in msgs], [m.topic for m in msgs]
            )
            self.stats.add(outcome)
            outcomes.append(outcome)
            if self.on_batch is not None:
                self.on_batch(outcome)
        return outcomes


def worker_id(settings: MqttSettings) -> str:
    """The key-index owner of a worker: its broker and client id (one session, one owner)."""
    return f"mqtt://{settings.host}:{settings.port}/{settings.client_id}"
