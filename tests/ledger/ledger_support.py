"""Shared helpers for the ledger tests: a stepping clock, entries, an in-memory ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from onshore.ledger import Activity, Ledger, LedgerEntry
from onshore.ledger.sqlite import SQLiteBackend

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


class StepClock:
    """A clock that advances one second per reading."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_entry(
    n: int, kind: Activity = Activity.COLLECTION, dataset: str = "telemetry"
) -> LedgerEntry:
    return LedgerEntry(
        kind=kind,
        actor=f"worker-{n % 3}",
        time=T0 + timedelta(minutes=n),
        purpose="fleet-maintenance",
        dataset=dataset,
        categories=("location.trajectory", "vehicle.identity.vin"),
        counts={"records": n, "subjects": n // 2},
        decision="allowed",
        reasons=("cn-auto/consent/valid",),
        details={"note": f"批次 {n}"},
    )


def memory_ledger(key: Ed25519PrivateKey | None = None) -> Ledger:
    backend = SQLiteBackend(":memory:", synchronous="OFF")
    return Ledger(backend, key or Ed25519PrivateKey.generate(), clock=StepClock())
