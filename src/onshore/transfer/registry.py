"""Approvals on record, cumulative export counters and the transfer log, in the metadata DB.

Tables (component ``transfer`` of the shared migrations table)::

    transfer_approvals(id, kind, recipient, purpose, categories, max_individuals, issued,
                       expires, reference, created_at)
    transfer_individuals(year, subject_hash, recipient, purpose, sensitive, first_at,
                         non_sensitive)
    transfers(id, at, dataset, recipient, country, purpose, access_mode, mechanism, allowed,
              approval, package, individuals, sensitive_individuals, ledger_index)

Individuals are kept as keyed hashes (HMAC-SHA-256 with the home's ``transfer-count`` key),
never as identifiers: the counters say how many, not who.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from onshore.errors import BadInput
from onshore.keystore import KeyKind, _random_id
from onshore.store import DataHome
from onshore.store.db import MetaDB, iso
from onshore.transfer.counting import Both, Counts, Kinds, merge, totals
from onshore.transfer.models import Approval

COMPONENT = "transfer"
COUNT_KEY = "transfer-count"
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE transfer_approvals (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                recipient TEXT,
                purpose TEXT,
                categories TEXT NOT NULL,
                max_individuals BIGINT,
                issued TEXT NOT NULL,
                expires TEXT,
                reference TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE transfer_individuals (
                year INTEGER NOT NULL,
                subject_hash TEXT NOT NULL,
                recipient TEXT NOT NULL,
                purpose TEXT NOT NULL,
                sensitive INTEGER NOT NULL,
                first_at TEXT NOT NULL,
                PRIMARY KEY (year, subject_hash, recipient, purpose)
            )""",
            """CREATE TABLE transfers (
                id TEXT PRIMARY KEY,
                at TEXT NOT NULL,
                dataset TEXT NOT NULL,
                recipient TEXT NOT NULL,
                country TEXT NOT NULL,
                purpose TEXT NOT NULL,
                access_mode TEXT NOT NULL,
                mechanism TEXT NOT NULL,
                allowed INTEGER NOT NULL,
                approval TEXT,
                package TEXT,
                individuals BIGINT NOT NULL,
                sensitive_individuals BIGINT NOT NULL,
                ledger_index BIGINT
            )""",
        ),
    ),
    (
        2,
        (
            # whether the person's exported PI held non-sensitive PI too (counted in both
            # totals); rows from before are assumed to (the larger, conservative count)
            "ALTER TABLE transfer_individuals ADD COLUMN non_sensitive INTEGER NOT NULL DEFAULT 1",
        ),
    ),
)


def migrate(db: MetaDB) -> None:
    """Create or update the transfer tables (idempotent, safe from several processes)."""
    db.apply_migrations(COMPONENT, MIGRATIONS)


def _kinds(sensitive: np.ndarray, non_sensitive: np.ndarray | None) -> list[Kinds]:
    s = [bool(x) for x in sensitive]
    if non_sensitive is None:
        return [(x, not x) for x in s]
    return list(zip(s, (bool(x) for x in non_sensitive), strict=True))


@dataclass(frozen=True)
class TransferRecord:
    id: str
    at: str
    dataset: str
    recipient: str
    purpose: str
    mechanism: str
    allowed: bool
    approval: str | None
    package: str | None
    individuals: int


class Registry:
    """The transfer gate's state in a data home."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.db = home.meta
        if COUNT_KEY not in home.keystore._kinds:
            home.keystore.register(
                KeyKind(COUNT_KEY, lambda: secrets.token_bytes(32), _random_id, 32)
            )
        migrate(self.db)

    # -- approvals ------------------------------------------------------------------------------
    def add_approval(self, approval: Approval, *, reference: str = "") -> Approval:
        """Put ``approval`` on record and enter the addition on the ledger (a ``use`` entry)."""
        if self.db.query("SELECT id FROM transfer_approvals WHERE id = ?", (approval.id,)):
            raise BadInput(f"approval {approval.id!r} is already on record", field="id")
        self.db.execute(
            "INSERT INTO transfer_approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                approval.id,
                approval.kind,
                approval.recipient,
                approval.purpose,
                json.dumps(list(approval.categories)),
                approval.max_individuals,
                approval.issued.isoformat(),
                approval.expires.isoformat() if approval.expires else None,
                reference,
                iso(self.home.now()),
            ),
        )
        self.home.record(
            "use",
            purpose="transfer approvals registry",
            dataset="-",
            decision=f"approval {approval.id} ({approval.kind}) put on record",
            details={"approval": approval.id, "kind": approval.kind},
        )
        return approval

    def approvals(self) -> list[Approval]:
        rows = self.db.query(
            "SELECT id, kind, recipient, purpose, categories, max_individuals, issued, expires "
            "FROM transfer_approvals ORDER BY issued, id"
        )
        return [
            Approval(
                id=r[0],
                kind=r[1],
                recipient=r[2],
                purpose=r[3],
                categories=tuple(json.loads(r[4])),
                max_individuals=None if r[5] is None else int(r[5]),
                issued=dt.date.fromisoformat(r[6]),
                expires=dt.date.fromisoformat(r[7]) if r[7] else None,
            )
            for r in rows
        ]

    # -- counters -------------------------------------------------------------------------------
    def hash_subjects(self, subjects: pa.Array) -> list[str]:
        key = self.home.keystore.get_or_create(COUNT_KEY)
        return [
            hmac.new(key.material, s.encode("utf-8"), hashlib.sha256).hexdigest()[:40]
            for s in subjects.to_pylist()
        ]

    def count(
        self,
        hashes: Sequence[str],
        sensitive: np.ndarray,
        *,
        year: int,
        recipient: str,
        purpose: str,
        non_sensitive: np.ndarray | None = None,
        people_with_both: Both = "both",
    ) -> Counts:
        """Distinct individuals of this transfer and since 1 January (every dataset and
        recipient of this processor), this one included.

        ``non_sensitive`` says whose exported records held PI other than sensitive PI (default:
        those without sensitive PI); ``people_with_both`` is the pack's counting setting.
        """
        prior_rows = self.db.query(
            "SELECT subject_hash, MAX(sensitive), MAX(non_sensitive), "
            "MAX(CASE WHEN recipient = ? AND purpose = ? THEN 1 ELSE 0 END) "
            "FROM transfer_individuals WHERE year = ? GROUP BY subject_hash",
            (recipient.casefold(), purpose.casefold(), year),
        )
        year_total: dict[str, Kinds] = {h: (bool(s), bool(n)) for h, s, n, _g in prior_rows}
        group = {h for h, _s, _n, g in prior_rows if g}
        current: dict[str, Kinds] = {}
        for h, kinds in zip(hashes, _kinds(sensitive, non_sensitive), strict=True):
            current[h] = merge(current.get(h), kinds)
        for h, kinds in current.items():
            year_total[h] = merge(year_total.get(h), kinds)
            group.add(h)
        ns_total, s_total = totals(year_total, people_with_both)
        return Counts(
            individuals=len(current),
            sensitive_individuals=sum(1 for s, _n in current.values() if s),
            cumulative_non_sensitive=ns_total,
            cumulative_sensitive=s_total,
            group_individuals=len(group),
            cumulative_individuals=len(year_total),
        )

    def add_individuals(
        self,
        hashes: Sequence[str],
        sensitive: np.ndarray,
        *,
        year: int,
        recipient: str,
        purpose: str,
        non_sensitive: np.ndarray | None = None,
    ) -> None:
        now = iso(self.home.now())
        rows = [
            (year, h, recipient.casefold(), purpose.casefold(), int(s), now, int(n))
            for h, (s, n) in zip(hashes, _kinds(sensitive, non_sensitive), strict=True)
        ]
        columns = "(year, subject_hash, recipient, purpose, sensitive, first_at, non_sensitive)"
        greatest = "GREATEST" if self.db.dialect == "postgresql" else "MAX"
        self.db.executemany(
            f"INSERT INTO transfer_individuals {columns} VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (year, subject_hash, recipient, purpose) DO UPDATE SET "
            f"sensitive = {greatest}(transfer_individuals.sensitive, excluded.sensitive), "
            f"non_sensitive = {greatest}(transfer_individuals.non_sensitive, "
            "excluded.non_sensitive)",
            rows,
        )

    def exports_of(self, subject: str) -> list[dict[str, Any]]:
        """The exports this year or earlier that carried ``subject``'s data (a VIN or person
        id), for telling the person (PIPL Art. 39): each transfer entered on the ledger to a
        recipient and for a purpose under which the person was counted that year, with the
        recipient's country and contact, the purpose and the categories."""
        (digest,) = self.hash_subjects(pa.array([subject]))
        keys = {
            (int(year), str(recipient), str(purpose))
            for year, recipient, purpose in self.db.query(
                "SELECT year, recipient, purpose FROM transfer_individuals WHERE subject_hash = ?",
                (digest,),
            )
        }
        if not keys:
            return []
        out: list[dict[str, Any]] = []
        for index, entry in self.home.ledger.entries(kind="export"):
            d = entry.details
            key = (
                entry.time.year,
                str(d.get("recipient", "")).casefold(),
                entry.purpose.casefold(),
            )
            if key not in keys:
                continue
            out.append(
                {
                    "transfer": d.get("transfer"),
                    "at": entry.time.isoformat(),
                    "recipient": d.get("recipient"),
                    "country": d.get("country"),
                    "contact": d.get("contact", ""),
                    "purpose": entry.purpose,
                    "categories": list(entry.categories),
                    "use_abroad": d.get("use_abroad", {}),
                    "ledger_index": index,
                }
            )
        return out

    def remove_individuals_since(self, moment: str) -> None:
        """Compensate a transfer whose ledger entry could not be written."""
        self.db.execute("DELETE FROM transfer_individuals WHERE first_at >= ?", (moment,))

    # -- log ------------------------------------------------------------------------------------
    def log(
        self,
        record: TransferRecord,
        *,
        country: str,
        access_mode: str,
        sensitive_individuals: int,
        ledger_index: int | None,
    ) -> None:
        self.db.execute(
            "INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.at,
                record.dataset,
                record.recipient,
                country,
                record.purpose,
                access_mode,
                record.mechanism,
                int(record.allowed),
                record.approval,
                record.package,
                record.individuals,
                sensitive_individuals,
                ledger_index,
            ),
        )

    def transfers(self, year: int | None = None) -> list[TransferRecord]:
        rows = self.db.query(
            "SELECT id, at, dataset, recipient, purpose, mechanism, allowed, approval, package, "
            "individuals FROM transfers ORDER BY at"
        )
        out = [
            TransferRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], int(r[9]))
            for r in rows
        ]
        return [t for t in out if year is None or t.at.startswith(str(year))]
