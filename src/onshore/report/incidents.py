"""Data security incidents and user complaints: their handling, deadlines, and ledger entries.

Two tables in the metadata database (component ``report`` of the shared migrations table)::

    incidents(id, opened_at, severity, title, categories, affected, status, report_deadline,
              reported_at, closed_at, handling, updated_at)
    complaints(id, received_at, channel, summary, categories, transfer, status, due_date,
               due_confidence, responded_at, handling, updated_at)

The tables are the working register; every add and update is also an ``incident`` or
``complaint`` ledger entry (``details.id``, ``details.action`` and the state after the change),
so the annual report reads the handling history from the ledger, which is tamper-evident.
No complainant's name or contact is stored: a complaint carries at most the vehicle's pseudonym.

Deadlines: a complaint is answered within ``sla_days`` working days of the pack's calendar
(default 15, an Onshore default: PIPL Art. 50 asks for prompt handling without a number); an
incident is reported to the authority within the hours its severity allows (Onshore defaults
after the CAC incident-reporting measures: 1 hour for major and especially major incidents).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from onshore.errors import BadInput
from onshore.store import DataHome
from onshore.store.db import MetaDB, iso

COMPONENT = "report"
SEVERITIES: dict[str, int] = {"general": 24, "large": 4, "major": 1, "especially_major": 1}
INCIDENT_STATUSES = ("open", "contained", "reported", "closed")
COMPLAINT_STATUSES = ("received", "in_progress", "answered", "closed")
DEFAULT_SLA_DAYS = 15
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE incidents (
                id TEXT PRIMARY KEY,
                opened_at TEXT NOT NULL,
                severity TEXT NOT NULL,
                title TEXT NOT NULL,
                categories TEXT NOT NULL,
                affected BIGINT NOT NULL,
                status TEXT NOT NULL,
                report_deadline TEXT NOT NULL,
                reported_at TEXT,
                closed_at TEXT,
                handling TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE complaints (
                id TEXT PRIMARY KEY,
                received_at TEXT NOT NULL,
                channel TEXT NOT NULL,
                summary TEXT NOT NULL,
                categories TEXT NOT NULL,
                transfer TEXT,
                status TEXT NOT NULL,
                due_date TEXT NOT NULL,
                due_confidence TEXT NOT NULL,
                responded_at TEXT,
                handling TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
        ),
    ),
)


def migrate(db: MetaDB) -> None:
    """Create or update the incident and complaint tables (idempotent)."""
    db.apply_migrations(COMPONENT, MIGRATIONS)


@dataclass(frozen=True)
class Incident:
    """A data security incident and how it was handled."""

    id: str
    opened_at: str
    severity: str
    title: str
    categories: tuple[str, ...]
    affected: int
    status: str
    report_deadline: str
    reported_at: str | None
    closed_at: str | None
    handling: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class Complaint:
    """A user complaint about automotive data and how it was handled."""

    id: str
    received_at: str
    channel: str
    summary: str
    categories: tuple[str, ...]
    transfer: str | None
    status: str
    due_date: str
    due_confidence: str
    responded_at: str | None
    handling: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["categories"] = list(self.categories)
        return out


def _check(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise BadInput(f"{value!r} is not one of: {', '.join(allowed)}", field=field)
    return value


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class Register:
    """Incidents and complaints of a data home; every change goes to the ledger too."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.db = home.meta
        migrate(self.db)

    # -- incidents ------------------------------------------------------------------------------
    def add_incident(
        self,
        title: str,
        *,
        severity: str = "general",
        categories: Sequence[str] = (),
        affected: int = 0,
        opened_at: dt.datetime | None = None,
        handling: str = "",
        deadline_hours: int | None = None,
    ) -> Incident:
        """Open an incident; its report deadline follows from the severity (or the hours given)."""
        _check(severity, tuple(SEVERITIES), "severity")
        self._known(categories)
        opened = opened_at or self.home.now()
        hours = SEVERITIES[severity] if deadline_hours is None else deadline_hours
        incident = Incident(
            id=_new_id("inc"),
            opened_at=iso(opened),
            severity=severity,
            title=title,
            categories=tuple(categories),
            affected=affected,
            status="open",
            report_deadline=iso(opened + dt.timedelta(hours=hours)),
            reported_at=None,
            closed_at=None,
            handling=handling,
            updated_at=iso(self.home.now()),
        )
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _incident_row(incident),
            )
        self._record("incident", "add", incident.to_dict(), incident.categories)
        return incident

    def update_incident(
        self,
        incident_id: str,
        *,
        status: str | None = None,
        handling: str | None = None,
        reported_at: dt.datetime | None = None,
    ) -> Incident:
        """Change an incident's status or handling; ``reported`` sets the report time."""
        old = self.incident(incident_id)
        now = self.home.now()
        new_status = _check(status, INCIDENT_STATUSES, "status") if status else old.status
        reported = old.reported_at
        if reported_at is not None or (new_status == "reported" and reported is None):
            reported = iso(reported_at or now)
        closed = old.closed_at or (iso(now) if new_status == "closed" else None)
        incident = Incident(
            **{
                **old.to_dict(),
                "categories": old.categories,
                "status": new_status,
                "handling": handling if handling is not None else old.handling,
                "reported_at": reported,
                "closed_at": closed,
                "updated_at": iso(now),
            }
        )
        with self.db.transaction():
            self.db.execute("DELETE FROM incidents WHERE id = ?", (incident.id,))
            self.db.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _incident_row(incident),
            )
        self._record("incident", "update", incident.to_dict(), incident.categories)
        return incident

    def incident(self, incident_id: str) -> Incident:
        found = [i for i in self.incidents() if i.id == incident_id]
        if not found:
            raise BadInput(f"no incident {incident_id!r}", field="id")
        return found[0]

    def incidents(self) -> list[Incident]:
        rows = self.db.query("SELECT * FROM incidents ORDER BY opened_at, id")
        return [
            Incident(**{**_named(Incident, r), "categories": tuple(json.loads(r[4]))}) for r in rows
        ]

    # -- complaints -----------------------------------------------------------------------------
    def add_complaint(
        self,
        summary: str,
        *,
        channel: str = "hotline",
        categories: Sequence[str] = (),
        transfer: str | None = None,
        received_at: dt.datetime | None = None,
        sla_days: int = DEFAULT_SLA_DAYS,
        vin: str | None = None,
    ) -> Complaint:
        """Receive a complaint; it is due ``sla_days`` working days later (the pack's calendar)."""
        self._known(categories)
        calendar = self.home.pack.calendar
        if calendar is None:
            raise BadInput("the pack has no calendar.yaml: working days cannot be counted")
        received = received_at or self.home.now()
        local_day = (received + calendar.utc_offset()).date()
        due = calendar.add_working_days(local_day, sla_days)
        complaint = Complaint(
            id=_new_id("cmp"),
            received_at=iso(received),
            channel=channel,
            summary=summary,
            categories=tuple(categories),
            transfer=transfer,
            status="received",
            due_date=due.day.isoformat(),
            due_confidence=due.confidence,
            responded_at=None,
            handling="",
            updated_at=iso(self.home.now()),
        )
        subject = self.home.subject_ref(vin) if vin else None
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO complaints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _complaint_row(complaint),
            )
        self._record("complaint", "add", complaint.to_dict(), complaint.categories, subject=subject)
        return complaint

    def update_complaint(
        self, complaint_id: str, *, status: str | None = None, handling: str | None = None
    ) -> Complaint:
        """Change a complaint's status or handling; ``answered`` sets the response time."""
        old = self.complaint(complaint_id)
        now = iso(self.home.now())
        new_status = _check(status, COMPLAINT_STATUSES, "status") if status else old.status
        responded = old.responded_at
        if responded is None and new_status in ("answered", "closed"):
            responded = now
        complaint = Complaint(
            **{
                **old.to_dict(),
                "categories": old.categories,
                "status": new_status,
                "handling": handling if handling is not None else old.handling,
                "responded_at": responded,
                "updated_at": now,
            }
        )
        with self.db.transaction():
            self.db.execute("DELETE FROM complaints WHERE id = ?", (complaint.id,))
            self.db.execute(
                "INSERT INTO complaints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _complaint_row(complaint),
            )
        self._record("complaint", "update", complaint.to_dict(), complaint.categories)
        return complaint

    def complaint(self, complaint_id: str) -> Complaint:
        found = [c for c in self.complaints() if c.id == complaint_id]
        if not found:
            raise BadInput(f"no complaint {complaint_id!r}", field="id")
        return found[0]

    def complaints(self) -> list[Complaint]:
        rows = self.db.query("SELECT * FROM complaints ORDER BY received_at, id")
        return [
            Complaint(**{**_named(Complaint, r), "categories": tuple(json.loads(r[4]))})
            for r in rows
        ]

    # -- shared ---------------------------------------------------------------------------------
    def _known(self, categories: Sequence[str]) -> None:
        for key in categories:
            if key not in self.home.pack.categories:
                raise BadInput(f"unknown data category {key!r}", field="categories")

    def _record(
        self,
        kind: str,
        action: str,
        state: Mapping[str, Any],
        categories: Sequence[str],
        subject: str | None = None,
    ) -> None:
        self.home.record(
            kind,
            purpose=f"{kind} handling",
            dataset=f"{kind}s",
            categories=categories,
            decision=str(state["status"]),
            subject=subject,
            details={"action": action, **state},
        )


def _named(cls: type[Any], row: Sequence[Any]) -> dict[str, Any]:
    """A table row by the dataclass's field names (the tables keep the fields' order)."""
    return {f.name: value for f, value in zip(fields(cls), row, strict=True)}


def _incident_row(i: Incident) -> tuple[Any, ...]:
    return (
        i.id,
        i.opened_at,
        i.severity,
        i.title,
        json.dumps(list(i.categories)),
        i.affected,
        i.status,
        i.report_deadline,
        i.reported_at,
        i.closed_at,
        i.handling,
        i.updated_at,
    )


def _complaint_row(c: Complaint) -> tuple[Any, ...]:
    return (
        c.id,
        c.received_at,
        c.channel,
        c.summary,
        json.dumps(list(c.categories)),
        c.transfer,
        c.status,
        c.due_date,
        c.due_confidence,
        c.responded_at,
        c.handling,
        c.updated_at,
    )
