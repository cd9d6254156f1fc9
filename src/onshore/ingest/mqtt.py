"""The MQTT worker: subscribe, batch by size and time, ingest, then acknowledge.

QoS 1 messages are acknowledged only after :meth:`~onshore.ingest.batch.Ingestor.ingest` has
returned, that is once every message of the batch is durably stored, quarantined or known to be
a duplicate. The session is persistent (MQTT 5: clean start off, with a session expiry; 3.1.1:
clean session off), so a worker that dies loses nothing: the broker redelivers what was not
acknowledged and the key index drops what had been stored. Acknowledgements go out in the order
messages came in, a batch's in one write.

The MQTT client is :class:`~onshore.ingest.subscriber.Subscriber`, which receives and
acknowledges in bulk: the worker's cost per message is a tuple, a dictionary look-up for its
route and its share of the batch's decoding. MQTT 5 asks the broker for a Receive Maximum of
65,535 unacknowledged messages, which lets a batch grow to thousands of messages. Under 3.1.1
the broker's own limit applies (Mosquitto's ``max_inflight_messages``, 20 by default): batches
stay that small unless it is raised. So that the broker never drops a QoS 1 message while the
worker catches up on a backlog, its queue for the session must hold the backlog (Mosquitto:
``max_queued_messages``, 1000 by default; see the README).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from onshore.errors import BadInput, StorageError
from onshore.ingest.batch import FORMATS, BatchOutcome, Ingestor
from onshore.ingest.quarantine import QuarantinedMessage
from onshore.ingest.status import StatusFile
from onshore.ingest.subscriber import (
    Message,
    MqttSettings,
    Subscriber,
    Unreachable,
    topic_matches,
)

if TYPE_CHECKING:  # the use case imports this package: its names are imported where used
    from onshore.app.ingest import Delivery, Receipt

DEFAULT_DATASETS = {"json": "telemetry", "gbt32960": "gbt32960"}
MAX_BACKOFF = 10.0
"""The longest wait between two tries of a batch during a storage fault (seconds)."""
log = logging.getLogger("onshore.ingest")


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
class BatchPolicy:
    """A batch is ingested when it holds ``max_messages`` or ``max_bytes``, or is ``max_wait``
    seconds old."""

    max_messages: int = 5_000
    max_bytes: int = 16 << 20
    max_wait: float = 0.25


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
    state: str = "starting"
    last_error: str | None = None
    last_error_at: float | None = None
    fault_since: float | None = None

    def add(self, outcome: BatchOutcome) -> None:
        self.rows += outcome.rows
        self.stored += outcome.stored
        self.duplicates += outcome.duplicates
        self.rejected += outcome.rejected

    def to_dict(self) -> dict[str, Any]:
        skip = ("started", "state", "last_error", "last_error_at", "fault_since")
        return {k: v for k, v in vars(self).items() if k not in skip} | {
            "seconds": round(time.time() - self.started, 3)
        }


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
        status: Path | None = None,
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
        self._client = Subscriber(
            self.settings, [self.settings.subscription(r.pattern) for r in routes]
        )
        self._routes: dict[bytes, tuple[str, Route | None]] = {}
        self._status = StatusFile(status) if status is not None else None
        self._status_at = 0.0
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._waiting_since: float | None = None
        self._waiting = 0

    # -- the broker -------------------------------------------------------------------------
    def connect(self, timeout: float = 10.0, stop: threading.Event | None = None) -> bool:
        """Connect (persistent session), subscribe, and start receiving.

        With ``stop``, a broker that cannot be reached is tried again with back-off until it
        can or ``stop`` is set (then ``False``); a refusal (credentials, TLS) is raised."""
        delay = 0.5
        while True:
            try:
                self._client.connect(timeout)
                return True
            except Unreachable as exc:
                if stop is None:
                    raise
                self.stats.state = "broker-unreachable"
                self.stats.last_error, self.stats.last_error_at = str(exc), time.time()
                self.publish_status(force=True)
                log.warning("%s; trying again in %.1f s", exc, delay)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 30.0)

    def close(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker's session."""
        self._client.close()
        if self._ack_log is not None:
            self._ack_log.close()
        self.stats.state = "stopped"
        self.publish_status(force=True)
        if self._status is not None:
            self._status.close()

    # -- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What ``onshore ingest status`` shows: state, totals, rates, lag, quarantine, errors."""
        now = time.time()
        client, stats = self._client, self.stats
        rate = 0.0
        if len(self._rate) >= 2:
            (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
            rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
        since = self._waiting_since
        return {
            "client_id": self.settings.client_id,
            "group": self.settings.group,
            "broker": f"{self.settings.host}:{self.settings.port}",
            "pid": os.getpid(),
            "state": stats.state,
            "updated_at": round(now, 3),
            "started_at": round(stats.started, 3),
            "connected": client.connected.is_set(),
            "reconnects": client.generation,
            "broker_error": client.last_error,
            "totals": stats.to_dict(),
            "messages_per_s": round(rate, 1),
            "waiting": self._waiting + client.pending(),
            "lag_s": round(time.monotonic() - since, 3) if since is not None else 0.0,
            "quarantine": self.ingestor.quarantine.stats(),
            "last_error": stats.last_error,
            "last_error_at": stats.last_error_at,
            "fault_since": stats.fault_since,
        }

    def publish_status(self, *, force: bool = False) -> None:
        """Write the status file (at most once a second unless ``force``)."""
        now = time.monotonic()
        if self._status is None or (not force and now - self._status_at < 1.0):
            return
        self._status_at = now
        self._rate.append((now, self.stats.acked))
        self._status.write(self.status())

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> None:
        """Batch and ingest until ``stop`` is set (or nothing came for ``idle_exit`` seconds).

        The batches go through the ingest use case (:func:`onshore.app.ingest.ingest`), which
        calls :meth:`_ack` once a batch is stored. A storage fault holds the batch (nothing is
        acknowledged) and is retried with back-off until it clears or ``stop`` is set; rows
        another worker is storing are retried after a short wait."""
        from onshore.app.ingest import ingest  # the use case imports this package

        stop = stop or threading.Event()
        self.stats.state = "running"
        self.publish_status(force=True)
        ingest(
            self.ingestor.home,
            self._deliveries(stop, idle_exit),
            ack=self._ack,
            ingestor=self.ingestor,
            on_fault=lambda exc, attempt: self._on_fault(exc, attempt, stop),
            stop=stop,
        )

    def _deliveries(self, stop: threading.Event, idle_exit: float | None) -> Iterator[Delivery]:
        """Batches of what the broker sends, by count, size and age; each is acknowledged (by
        :meth:`_ack`) before the next is asked for."""
        limit, max_bytes, max_wait = (
            self.policy.max_messages,
            self.policy.max_bytes,
            self.policy.max_wait,
        )
        buffer: list[Message] = []
        size = 0
        first = last = time.monotonic()
        while not stop.is_set():
            wait = max_wait - (time.monotonic() - first) if buffer else 0.2
            got = self._client.take(max(wait, 0.001))
            now = time.monotonic()
            if got:
                if not buffer:
                    first = now
                    self._waiting_since = now
                buffer += got
                size += sum([len(m[1]) for m in got])
                last = now
            elif idle_exit is not None and not buffer and now - last > idle_exit:
                break
            self._waiting = len(buffer)
            while len(buffer) >= limit and not stop.is_set():
                yield self.delivery(buffer[:limit])
                buffer = buffer[limit:]
                size = sum([len(m[1]) for m in buffer])
                first = time.monotonic()
            due = size >= max_bytes or time.monotonic() - first >= max_wait
            if buffer and due and not stop.is_set():
                yield self.delivery(buffer)
                buffer, size = [], 0
            if not buffer:
                self._waiting_since, self._waiting = None, 0
            self.publish_status()
        if buffer and self.stats.state == "running":
            yield self.delivery(buffer)  # stop is set: one try, no retry

    def delivery(self, buffer: list[Message]) -> Delivery:
        """The messages of ``buffer`` as one delivery: a part per route, the unroutable."""
        from onshore.app.ingest import Delivery, Messages, Unroutable

        groups, lost = self._groups(buffer)
        parts: list[Messages | Unroutable] = [
            Messages(route.dataset, route.fmt, payloads, topics)
            for route, (payloads, topics) in groups.items()
        ]
        if lost:
            parts.append(Unroutable(lost))
        return Delivery(tuple(parts), buffer)

    def _ack(self, receipt: Receipt) -> None:
        """The batch is stored: count it, log its keys (``--ack-log``), send its PUBACKs."""
        buffer: list[Message] = receipt.token
        if self.stats.fault_since is not None:
            log.warning(
                "storage is back after %.1f s: ingesting and acknowledging again",
                time.time() - self.stats.fault_since,
            )
            self.stats.fault_since = None
            self.stats.state = "running"
        for outcome in receipt.outcomes:
            self.stats.add(outcome)
            if self.on_batch is not None:
                self.on_batch(outcome)
        self.stats.rejected += receipt.unroutable
        if self._ack_log is not None:
            now = time.time()
            lines = [f"{v}\t{t}\t{k}\t{now:.3f}\n" for o in receipt.outcomes for v, t, k in o.keys]
            self._ack_log.write("".join(lines))
            self._ack_log.flush()
        self._client.ack(buffer)
        self.stats.acked += len(buffer)
        self.stats.batches += 1
        self.stats.messages += len(buffer)

    def _on_fault(self, exc: StorageError, attempt: int, stop: threading.Event) -> float | None:
        """A storage fault on a batch: record it; the wait before the next try (0.5 s doubling
        to :data:`MAX_BACKOFF`), or ``None`` once ``stop`` is set (the broker keeps the
        messages for the next start)."""
        delay = min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)
        self._fault(exc, delay)
        return None if stop.is_set() else delay

    def _fault(self, exc: StorageError, delay: float) -> None:
        """Record a storage fault: the log at once (then on each change), the status."""
        stats, text, now = self.stats, str(exc), time.time()
        stats.failures += 1
        if stats.fault_since is None or text != stats.last_error:
            log.error(
                "storage fault, not acknowledging (retrying in %.1f s): %s",
                delay,
                text,
            )
        stats.fault_since = stats.fault_since or now
        stats.state = "storage-fault"
        stats.last_error, stats.last_error_at = text, now
        self.publish_status(force=True)

    def _route(self, topic: bytes) -> tuple[str, Route | None]:
        """The topic as text and its route (the first that matches), remembered by topic."""
        known = self._routes.get(topic)
        if known is None:
            text = topic.decode("utf-8", errors="replace")
            route = next((r for r in self.routes if topic_matches(r.pattern, text)), None)
            if len(self._routes) >= 200_000:
                self._routes.clear()
            known = self._routes[topic] = (text, route)
        return known

    def _groups(
        self, buffer: list[Message]
    ) -> tuple[dict[Route, tuple[list[bytes], list[str]]], list[QuarantinedMessage]]:
        """The messages of ``buffer`` by route, and those no route takes."""
        groups: dict[Route, tuple[list[bytes], list[str]]] = {}
        lost: list[QuarantinedMessage] = []
        route_of = self._route
        for topic, payload, _pid, _gen in buffer:
            text, route = route_of(topic)
            if route is None:
                lost.append(QuarantinedMessage(text, "unrouted", "?", "no route", payload))
                continue
            group = groups.get(route)
            if group is None:
                group = groups[route] = ([], [])
            group[0].append(payload)
            group[1].append(text)
        return groups, lost


def worker_id(settings: MqttSettings) -> str:
    """The key-index owner of a worker: its broker and client id (one session, one owner)."""
    return f"mqtt://{settings.host}:{settings.port}/{settings.client_id}"
