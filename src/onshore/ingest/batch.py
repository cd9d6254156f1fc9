"""One batch of messages through the shared pipeline, idempotently.

:class:`Ingestor` is what the MQTT worker and the HTTP service both call: decode the messages
(:mod:`onshore.ingest.decode`), quarantine what does not decode, claim the rows' keys
(:mod:`onshore.ingest.keys`) so a redelivered row is dropped, run :func:`onshore.pipeline.ingest`
(consent gate → classify → residency → store → ledger) on the new rows, and confirm the batch.
When :meth:`Ingestor.ingest` returns, everything it was given is durably stored, quarantined
or known to be a duplicate: its messages may be acknowledged. :meth:`Ingestor.ingest_table`
does the same for rows that are canonical already (an Arrow body of the HTTP service).

A refusal by policy or bad input from the pipeline quarantines the batch's messages with the
reason (and returns); a storage failure releases the claim and raises, so nothing is
acknowledged and the broker delivers the messages again (whatever the pipeline had published
before failing is settled by :func:`~onshore.ingest.recovery.recover`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from onshore.errors import BadInput, PolicyRefusal, StorageError
from onshore.ingest.decode import DECODERS, Key
from onshore.ingest.keys import KeyIndex
from onshore.ingest.quarantine import Quarantine, QuarantinedMessage
from onshore.ingest.recovery import recover
from onshore.model import Level
from onshore.pipeline import ingest as run_pipeline
from onshore.store.atomic import storage_fault
from onshore.store.home import DEFAULT_STORE, DataHome

if TYPE_CHECKING:
    from onshore.geo import AreaIndex

FORMATS = tuple(DECODERS)
TABLE_KIND = "json"


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch came to."""

    dataset: str
    fmt: str
    messages: int
    rows: int
    stored: int
    duplicates: int
    rejected: int
    quarantined_rows: int
    files: tuple[str, ...]
    seconds: float
    keys: tuple[Key, ...] = field(default=(), repr=False)
    refused: str | None = None
    level: str | None = None
    #: what the consent gate dropped and nulled, per category and per column and reason
    consent_gate: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        gate = {"consent_gate": self.consent_gate} if self.consent_gate is not None else {}
        return gate | {
            "dataset": self.dataset,
            "format": self.fmt,
            "messages": self.messages,
            "rows": self.rows,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected_messages": self.rejected,
            "quarantined_rows": self.quarantined_rows,
            "files": list(self.files),
            "level": self.level,
            "refused": self.refused,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class PipelineOptions:
    """The pipeline settings every batch of a runner shares."""

    purpose: str = "national_monitoring"
    store: str = DEFAULT_STORE
    origin: str | None = None
    subject: str | None = None


class Ingestor:
    """Runs batches of one runner (``worker`` names it in the key index) through the pipeline."""

    def __init__(
        self,
        home: DataHome,
        *,
        worker: str,
        options: PipelineOptions | None = None,
        areas: AreaIndex | None = None,
        quarantine: Path | None = None,
    ) -> None:
        self.home = home
        self.options = options or PipelineOptions()
        self.areas = areas
        self.index = KeyIndex(home, worker)
        self.quarantine = Quarantine(quarantine or home.path / "quarantine")
        self._stored_batches = 0
        self._unsettled: set[str] = set()

    def _settle(self) -> None:
        """Settle the batches a failure left pending before claiming anything again.

        Their keys would otherwise count as duplicates: a retried message would be
        acknowledged without being stored. Raises (``StorageError``) while storage is down."""
        for batch in sorted(self._unsettled):
            recover(self.index, batch=batch)
            self._unsettled.discard(batch)

    def _fault_point(self) -> None:
        """Crash-test hook: ``ONSHORE_INGEST_FAULT=kill-after-store:N`` makes the process kill
        itself (SIGKILL) once the N-th batch is in the lake but not yet confirmed, the
        narrowest window a crash can hit."""
        self._stored_batches += 1
        fault = self.home.environ.get("ONSHORE_INGEST_FAULT", "")
        if fault.startswith("kill-after-store:") and self._stored_batches == int(fault[17:]):
            os.kill(os.getpid(), signal.SIGKILL)

    def ingest(
        self,
        dataset: str,
        fmt: str,
        payloads: Sequence[bytes],
        sources: Sequence[str] | None = None,
    ) -> BatchOutcome:
        """Decode and store ``payloads`` (one message each) of format ``fmt`` as ``dataset``."""
        if fmt not in DECODERS:
            raise BadInput(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", field="format")
        started = time.perf_counter()
        names = list(sources) if sources is not None else [dataset] * len(payloads)
        try:
            return self._ingest(dataset, fmt, payloads, names, started)
        except StorageError:
            raise
        except OSError as exc:  # a write this code did not expect to fail: a storage fault
            raise storage_fault(f"cannot ingest into {dataset}", exc) from exc
        except Exception as exc:  # no message may stop ingest: isolate the one that fails
            if len(payloads) > 1:
                mid = len(payloads) // 2
                return _merge(
                    self.ingest(dataset, fmt, payloads[:mid], names[:mid]),
                    self.ingest(dataset, fmt, payloads[mid:], names[mid:]),
                )
            reason = f"internal error: {type(exc).__name__}: {exc}"[:500]
            self.quarantine.put(
                [QuarantinedMessage(names[0], dataset, fmt, reason, payloads[0])], self.home.now()
            )
            return BatchOutcome(
                dataset, fmt, 1, 0, 0, 0, 1, 0, (), time.perf_counter() - started, refused=reason
            )

    def _ingest(
        self,
        dataset: str,
        fmt: str,
        payloads: Sequence[bytes],
        names: list[str],
        started: float,
    ) -> BatchOutcome:
        decoded = DECODERS[fmt](payloads)
        rejected = [
            QuarantinedMessage(
                names[r.index], dataset, fmt, r.reason, payloads[r.index], r.field, r.offset
            )
            for r in decoded.rejected
        ]
        base = {
            "dataset": dataset,
            "fmt": fmt,
            "messages": len(payloads),
            "rows": decoded.table.num_rows,
            "rejected": len(decoded.rejected),
            "keys": tuple(decoded.keys),
        }
        # Quarantined only once the batch is settled: a storage fault retries the whole batch,
        # and each message must end in exactly one place.
        try:
            outcome = self._store(dataset, decoded.table, decoded.keys, base, started)
        except _Refused as refused:
            skip = {r.index for r in decoded.rejected}
            rejected += [
                QuarantinedMessage(names[i], dataset, fmt, f"refused: {refused.exc}", p)
                for i, p in enumerate(payloads)
                if i not in skip
            ]
            self.quarantine.put(rejected, self.home.now())
            return BatchOutcome(
                **base,
                stored=0,
                duplicates=refused.duplicates,
                quarantined_rows=refused.rows,
                files=(),
                seconds=time.perf_counter() - started,
                refused=str(refused.exc),
            )
        self.quarantine.put(rejected, self.home.now())
        return outcome

    def ingest_table(self, dataset: str, table: pa.Table, *, fmt: str = "arrow") -> BatchOutcome:
        """Store the rows of ``table`` (canonical rows: ``vin`` text, ``ts`` a UTC timestamp)
        not stored before, as ``dataset``: one message of ``fmt``, keyed ``(vin, ts, "json")``,
        the kind of any canonical row that is not a GB/T 32960 frame (what crash recovery reads
        back from the lake). Unlike :meth:`ingest`, a refusal by policy or bad input releases
        the claim and is raised (:class:`~onshore.errors.PolicyRefusal`,
        :class:`~onshore.errors.BadInput`): the caller answers it.
        """
        started = time.perf_counter()
        for name in ("vin", "ts"):
            if name not in table.column_names:
                raise BadInput(f"no {name!r} column", field=name)
        vins = table.column("vin").to_pylist()
        stamps = table.column("ts").cast(pa.int64()).to_pylist()
        keys = [(v, t, TABLE_KIND) for v, t in zip(vins, stamps, strict=True)]
        base = {
            "dataset": dataset,
            "fmt": fmt,
            "messages": 1,
            "rows": table.num_rows,
            "rejected": 0,
        }
        try:
            return self._store(dataset, table, keys, base, started)
        except _Refused as refused:
            raise refused.exc from None

    def _store(
        self,
        dataset: str,
        table: pa.Table,
        keys: list[Key],
        base: dict[str, Any],
        started: float,
    ) -> BatchOutcome:
        """Claim ``keys`` (one per row), run the pipeline on the new rows, confirm the batch.

        A refusal or bad input from the pipeline releases the claim and raises
        :class:`_Refused`; any other failure lets recovery settle what the pipeline had
        published, and is raised."""
        if table.num_rows == 0:
            return BatchOutcome(
                **base,
                stored=0,
                duplicates=0,
                quarantined_rows=0,
                files=(),
                seconds=time.perf_counter() - started,
            )
        self._settle()
        batch = self.index.new_batch()
        try:
            claim = self.index.claim(dataset, self.options.purpose, keys, batch=batch)
        except BaseException:
            self._unsettled.add(batch)  # a claim that failed half way leaves keys behind
            raise
        new = table.filter(pa.array(claim.new)) if claim.duplicates else table
        if new.num_rows == 0:
            self.index.release(claim.batch)
            return BatchOutcome(
                **base,
                stored=0,
                duplicates=claim.duplicates,
                quarantined_rows=0,
                files=(),
                seconds=time.perf_counter() - started,
            )
        try:
            result = run_pipeline(
                self.home,
                [(b, None) for b in new.to_batches()],
                dataset=dataset,
                purpose=self.options.purpose,
                store=self.options.store,
                areas=self.areas,
                origin=self.options.origin,
                subject=self.options.subject,
            )
        except (PolicyRefusal, BadInput) as exc:
            self.index.release(claim.batch)
            raise _Refused(exc, claim.duplicates, new.num_rows) from exc
        except BaseException:
            # The pipeline may have published files before failing: let recovery look.
            self._unsettled.add(claim.batch)
            with contextlib.suppress(Exception):
                self._settle()
            raise
        files = tuple(f.path for f in result.files)
        self._fault_point()
        try:
            self.index.stored(claim.batch, files)
        except BaseException:
            self._unsettled.add(claim.batch)
            raise
        return BatchOutcome(
            **base,
            stored=result.rows_stored,
            duplicates=claim.duplicates,
            quarantined_rows=result.rows_quarantined,
            files=files,
            seconds=time.perf_counter() - started,
            level=result.assessment.level.label,
            consent_gate={
                k: v
                for k, v in result.gate.to_dict().items()
                if k in ("dropped_values", "nulled_values", "nulled_reasons", "dropped_reasons")
            },
        )


def _merge(a: BatchOutcome, b: BatchOutcome) -> BatchOutcome:
    """One outcome of two halves of a batch (split to isolate a message that failed)."""
    levels = [x.level for x in (a, b) if x.level is not None]
    return BatchOutcome(
        a.dataset,
        a.fmt,
        a.messages + b.messages,
        a.rows + b.rows,
        a.stored + b.stored,
        a.duplicates + b.duplicates,
        a.rejected + b.rejected,
        a.quarantined_rows + b.quarantined_rows,
        a.files + b.files,
        a.seconds + b.seconds,
        a.keys + b.keys,
        a.refused or b.refused,
        max(levels, key=_LEVEL_ORDER.index) if levels else None,
        _add_counts(a.consent_gate, b.consent_gate),
    )


def _add_counts(a: Any, b: Any) -> Any:
    """Counts (nested dicts of ints) of two halves, added key by key."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add_counts(a.get(k), b.get(k)) for k in sorted({*a, *b})}
    return a + b


_LEVEL_ORDER = [level.label for level in Level]


class _Refused(Exception):
    """The pipeline refused a batch (policy or bad input); its claim is released."""

    def __init__(self, exc: PolicyRefusal | BadInput, duplicates: int, rows: int) -> None:
        super().__init__(str(exc))
        self.exc, self.duplicates, self.rows = exc, duplicates, rows
