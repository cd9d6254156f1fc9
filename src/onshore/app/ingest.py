"""The ingest use case: store what a consumer loop delivers; acknowledge each delivery only
once it is stored.

A :class:`Delivery` is what a stream consumer hands over and later acknowledges as one unit:
canonical Arrow rows (:class:`Rows`: ``vin`` text, ``ts`` a UTC timestamp), raw messages of a
format the decoders read (:class:`Messages`: JSON, GB/T 32960 frames), messages to quarantine
as they are (:class:`Unroutable`), and a ``token``, whatever the caller needs to acknowledge it
(Kafka offsets, MQTT packet ids). :func:`ingest` runs each delivery through the
:class:`~onshore.ingest.batch.Ingestor` (keys claimed so a redelivered row is stored once,
consent gate, classification, residency, lake, ledger) and calls ``ack(receipt)`` only when
every row of the delivery is durably stored, quarantined with its reason, or a known
duplicate. The MQTT worker (``onshore ingest mqtt``) is a caller like any other: it turns
packets into deliveries and sends the PUBACKs from ``ack``.

The acknowledgement contract:

- ``ack`` is called once per delivery, in the order of ``source``, after the durable write; a
  delivery that was not acknowledged (the process died, ``stop`` was set during a storage
  fault, an error was raised) may be delivered again, and its stored rows are then duplicates.
- A storage fault (:class:`~onshore.errors.StorageUnavailable`: disk full, database gone)
  acknowledges nothing. Without ``on_fault`` it is raised (a consumer that does not commit its
  offsets reads the delivery again after a restart); with it, the delivery is tried again
  after the delay ``on_fault(error, attempt)`` returns, or given up (``None``: the result says
  ``stopped``).
- Rows another live worker is storing at that moment (:class:`~onshore.errors.KeyContested`,
  workers sharing one metadata database) are tried again after a short, growing wait, never
  acknowledged before their fate is known.
- A delivery refused by policy or not canonical (no ``vin``/``ts``) is quarantined (the rows as
  an Arrow IPC stream, with the reason) and acknowledged: it ends in one place and never
  blocks the stream.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from onshore.errors import BadInput, KeyContested, PolicyRefusal, StorageError
from onshore.ingest.batch import BatchOutcome, Ingestor, PipelineOptions
from onshore.ingest.keys import Heartbeat
from onshore.ingest.quarantine import QuarantinedMessage
from onshore.ingest.recovery import Recovered, recover

if TYPE_CHECKING:
    from onshore.geo import AreaIndex
    from onshore.store import DataHome

CONTESTED_WAIT = (0.05, 2.0)
"""First and longest wait (seconds) before a delivery whose rows another worker holds is tried
again; the wait doubles, with jitter, so two workers holding each other's rows part."""


@dataclass(frozen=True)
class Rows:
    """Canonical rows for ``dataset`` (an Arrow table or record batch)."""

    dataset: str
    table: pa.Table | pa.RecordBatch
    source: str = "arrow"


@dataclass(frozen=True)
class Messages:
    """Raw messages of format ``fmt`` (``json``, ``gbt32960``) for ``dataset``; ``sources``
    names each (a topic), as the quarantine shows it."""

    dataset: str
    fmt: str
    payloads: Sequence[bytes]
    sources: Sequence[str] | None = None


@dataclass(frozen=True)
class Unroutable:
    """Messages no dataset takes: quarantined as they are, with their reason."""

    messages: Sequence[QuarantinedMessage]


Part = Rows | Messages | Unroutable


@dataclass(frozen=True)
class Delivery:
    """What the caller acknowledges as one: its parts and the caller's ``token``.

    >>> import pyarrow as pa
    >>> d = Delivery.of_rows("telemetry", pa.table({"vin": ["X"]}), token=("topic", 0, 42))
    >>> d.token, type(d.parts[0]).__name__
    (('topic', 0, 42), 'Rows')
    """

    parts: tuple[Part, ...]
    token: Any = None

    @classmethod
    def of_rows(cls, dataset: str, table: pa.Table | pa.RecordBatch, token: Any = None) -> Delivery:
        """One part of canonical rows."""
        return cls((Rows(dataset, table),), token)

    @classmethod
    def of_messages(
        cls, dataset: str, fmt: str, payloads: Sequence[bytes], token: Any = None
    ) -> Delivery:
        """One part of raw messages."""
        return cls((Messages(dataset, fmt, payloads),), token)


@dataclass(frozen=True)
class Receipt:
    """A delivery, stored: its token and what each part came to."""

    token: Any
    outcomes: tuple[BatchOutcome, ...]
    unroutable: int = 0

    @property
    def stored(self) -> int:
        """Rows stored by this delivery (not counting duplicates)."""
        return sum(o.stored for o in self.outcomes)

    @property
    def duplicates(self) -> int:
        return sum(o.duplicates for o in self.outcomes)


@dataclass
class IngestResult:
    """Totals of one :func:`ingest` run."""

    deliveries: int = 0
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    quarantined_rows: int = 0
    storage_retries: int = 0
    contested_retries: int = 0
    stopped: bool = False
    recovered: list[Recovered] = field(default_factory=list)

    def add(self, receipt: Receipt) -> None:
        self.deliveries += 1
        self.rejected += receipt.unroutable
        for o in receipt.outcomes:
            self.rows += o.rows
            self.stored += o.stored
            self.duplicates += o.duplicates
            self.rejected += o.rejected
            self.quarantined_rows += o.quarantined_rows


OnFault = Callable[[StorageError, int], float | None]
"""``(error, attempt) -> seconds to wait before trying again, or None to give up``."""


def ingest(
    home: DataHome,
    source: Iterable[Delivery],
    *,
    ack: Callable[[Receipt], None],
    worker: str = "app",
    options: PipelineOptions | None = None,
    areas: AreaIndex | None = None,
    ingestor: Ingestor | None = None,
    on_fault: OnFault | None = None,
    stop: threading.Event | None = None,
) -> IngestResult:
    """Store every delivery of ``source`` in ``home`` and ``ack`` each once it is stored; see
    the module doc for the contract.

    ``worker`` names this consumer in the shared key index: give each concurrent consumer its
    own, the same across its restarts (its unfinished batches are settled when it starts
    again). ``ingestor`` reuses one (the MQTT worker's); it then holds ``home``, ``worker``,
    ``options`` and ``areas``. The run ends when ``source`` does; ``stop`` cuts a wait short
    (a delivery waiting for a retry is then given up, unacknowledged)."""
    ingestor = ingestor or Ingestor(home, worker=worker, options=options, areas=areas)
    stop = stop or threading.Event()
    result = IngestResult()
    ingestor.index.check_alone()  # before beating as this worker
    heartbeat = Heartbeat(ingestor.index)
    try:
        result.recovered = recover(ingestor.index)
        ingestor.index.settle_dead()
        for delivery in source:
            receipt = _deliver(ingestor, delivery, on_fault, stop, result)
            if receipt is None:
                result.stopped = True
                break
            ack(receipt)
            result.add(receipt)
    finally:
        heartbeat.close()
    return result


def _deliver(
    ingestor: Ingestor,
    delivery: Delivery,
    on_fault: OnFault | None,
    stop: threading.Event,
    result: IngestResult,
) -> Receipt | None:
    """Store ``delivery``'s parts (a retry skips the parts already done, so nothing is
    quarantined twice); ``None`` if it was given up."""
    done: dict[int, BatchOutcome] = {}
    unroutable = 0
    faults, contested = 0, 0
    while True:
        try:
            for i, part in enumerate(delivery.parts):
                if i in done or isinstance(part, Unroutable):
                    continue
                done[i] = _store(ingestor, part)
            break
        except KeyContested:
            wait = min(CONTESTED_WAIT[0] * 2**contested, CONTESTED_WAIT[1])
            contested += 1
            result.contested_retries += 1
            if stop.wait(wait * random.uniform(0.5, 1.5)):
                return None
        except StorageError as exc:
            if on_fault is None:
                raise
            faults += 1
            delay = on_fault(exc, faults)
            if delay is None or stop.wait(delay):
                return None
            result.storage_retries += 1
    for part in delivery.parts:
        if isinstance(part, Unroutable) and part.messages:
            ingestor.quarantine.put(list(part.messages), ingestor.home.now())
            unroutable += len(part.messages)
    return Receipt(delivery.token, tuple(done[i] for i in sorted(done)), unroutable)


def _store(ingestor: Ingestor, part: Rows | Messages) -> BatchOutcome:
    if isinstance(part, Messages):
        return ingestor.ingest(part.dataset, part.fmt, part.payloads, part.sources)
    table = part.table
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    try:
        return ingestor.ingest_table(part.dataset, table)
    except (PolicyRefusal, BadInput) as exc:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        field_name = exc.field if isinstance(exc, BadInput) else None
        ingestor.quarantine.put(
            [
                QuarantinedMessage(
                    part.source,
                    part.dataset,
                    "arrow",
                    f"refused: {exc}",
                    sink.getvalue().to_pybytes(),
                    field_name,
                )
            ],
            ingestor.home.now(),
        )
        return BatchOutcome(
            part.dataset,
            "arrow",
            1,
            table.num_rows,
            0,
            0,
            1,
            table.num_rows,
            (),
            0.0,
            refused=str(exc),
        )
