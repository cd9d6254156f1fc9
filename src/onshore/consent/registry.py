"""The consent registry: consents per subject (a vehicle or a person), category and purpose.

Consents live in the metadata database (``consents``); every change (grant, withdrawal,
erasure, a bulk import) is a ``consent_change`` ledger entry that names the subject by its
pseudonym only.
Withdrawal takes effect at once: the gate reads the registry at the start of every ingest, and
a consent withdrawn (or expired) by then covers nothing, not even rows collected before.

>>> import tempfile
>>> from datetime import datetime, timedelta, timezone
>>> from onshore.store import DataHome
>>> t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> with DataHome(tempfile.mkdtemp(), environ={}, clock=lambda: t0) as home:
...     reg = ConsentRegistry(home)
...     c = reg.grant("LSVAU2180N2183294", "location.trajectory", "navigation",
...                   expires_at=t0 + timedelta(days=90))
...     before = reg.windows("navigation")
...     _ = reg.withdraw(c.id)
...     after = reg.windows("navigation")
>>> [w["location.trajectory"]["in_force"].to_pylist() for w in (before, after)]
[[True], [False]]
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyarrow as pa

from onshore.errors import BadInput, PolicyRefusal
from onshore.ledger import Activity
from onshore.store.db import iso
from onshore.store.home import DataHome

from .model import VEHICLE, Consent, check_grant, check_purpose, check_subject

_COLUMNS = (
    "id, vin, person, category, purpose, basis, separate, channel, granted_at, expires_at,"
    " withdrawn_at, necessity, actor, subject_kind"
)
_MARKS = ", ".join("?" for _ in _COLUMNS.split(","))
WINDOW_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("subject", pa.string()),
        ("start_ms", pa.int64()),
        ("end_ms", pa.int64()),
        ("in_force", pa.bool_()),
    ]
)
"""A consent window for the gate: the subject's kind and id, ``[start, end)`` in epoch ms, and
whether it still covers data (a withdrawn or expired consent covers nothing, not even rows
collected before; it stays in the table so the gate can say why a value was nulled)."""


class ConsentRegistry:
    """Grant, withdraw and list consents in a data home."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.pack = home.pack

    def grant(
        self,
        subject: str,
        category: str,
        purpose: str,
        *,
        expires_at: datetime | None,
        kind: str = VEHICLE,
        person: str = "owner",
        channel: str = "app",
        necessity: str | None = None,
        granted_at: datetime | None = None,
    ) -> Consent:
        """Record a separate consent of ``subject`` (a VIN, or a person id when ``kind`` is
        ``person``); refuses a permanent one and biometrics off-purpose."""
        granted = granted_at or self.home.now()
        try:
            basis = check_grant(
                self.pack,
                subject=subject,
                kind=kind,
                category=category,
                purpose=purpose,
                granted_at=granted,
                expires_at=expires_at,
                channel=channel,
                necessity=necessity,
            )
        except PolicyRefusal as exc:
            self.home.record(
                Activity.POLICY_REFUSAL,
                purpose=purpose,
                dataset="consents",
                categories=(category,),
                decision="refused",
                reasons=(self.pack.bases.biometric.rule_id,) if self.pack.bases else (),
                subject=self.home.subject_ref(subject),
                details={"action": "consent grant", "reason": str(exc)},
            )
            raise
        assert expires_at is not None
        consent = Consent(
            id=f"c-{secrets.token_hex(8)}",
            subject=check_subject(subject, kind),
            person=person,
            category=category,
            purpose=purpose,
            basis=basis.basis,
            separate=True,
            channel=channel,
            granted_at=granted,
            expires_at=expires_at,
            withdrawn_at=None,
            necessity=necessity,
            actor=self.home.actor,
            subject_kind=kind,
        )
        self.home.meta.execute(
            f"INSERT INTO consents ({_COLUMNS}) VALUES ({_MARKS})",
            consent.to_row(),
        )
        self._log(consent, "granted", basis_id=basis.id)
        return consent

    def withdraw(
        self,
        consent_id: str | None = None,
        *,
        vin: str | None = None,
        subject: str | None = None,
        kind: str | None = None,
        category: str | None = None,
        purpose: str | None = None,
    ) -> list[Consent]:
        """Withdraw one consent by id, or every active one matching subject/category/purpose
        (``vin`` is ``subject`` of kind vehicle)."""
        now = self.home.now()
        if vin is not None:
            subject, kind = vin, VEHICLE
        if consent_id is not None:
            targets = [c for c in self.list() if c.id == consent_id]
            if not targets:
                raise BadInput(f"no consent {consent_id!r}", field="id")
        elif subject is not None:
            targets = [
                c
                for c in self.list(subject=subject, kind=kind)
                if (category is None or c.category == category)
                and (purpose is None or c.purpose == purpose)
            ]
        else:
            raise BadInput("give a consent id, --vin or --subject", field="id")
        done = []
        for consent in targets:
            if consent.withdrawn_at is not None:
                continue
            self.home.meta.execute(
                "UPDATE consents SET withdrawn_at = ? WHERE id = ?", (iso(now), consent.id)
            )
            withdrawn = Consent(**{**consent.__dict__, "withdrawn_at": now})
            self._log(withdrawn, "withdrawn")
            done.append(withdrawn)
        return done

    def list(
        self,
        *,
        vin: str | None = None,
        subject: str | None = None,
        kind: str | None = None,
        purpose: str | None = None,
    ) -> list[Consent]:
        """Consents, oldest first, optionally of one subject (``vin``, or ``subject`` of any
        kind or of ``kind``) or for one purpose."""
        where, params = [], []
        if vin is not None:
            subject, kind = vin, VEHICLE
        if subject is not None:
            where.append("vin = ?")
            params.append(subject)
        if kind is not None:
            where.append("subject_kind = ?")
            params.append(kind)
        if purpose is not None:
            where.append("purpose = ?")
            params.append(purpose)
        sql = f"SELECT {_COLUMNS} FROM consents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.home.meta.query(sql + " ORDER BY granted_at, id", params)
        return [Consent.from_row(r) for r in rows]

    def windows(self, purpose: str, at: datetime | None = None) -> dict[str, pa.Table]:
        """For the gate: per consented category, the windows (:data:`WINDOW_SCHEMA`).

        A consent that is withdrawn or expired at ``at`` (default now) covers nothing
        (``in_force`` false).
        """
        check_purpose(self.pack, purpose)
        moment = at or self.home.now()
        grouped: dict[str, list[Consent]] = {}
        for consent in self.list(purpose=purpose):
            grouped.setdefault(consent.category, []).append(consent)
        return {
            category: pa.table(
                {
                    "kind": [c.subject_kind for c in items],
                    "subject": [c.subject for c in items],
                    "start_ms": [int(c.granted_at.timestamp() * 1000) for c in items],
                    "end_ms": [int(c.ends_at.timestamp() * 1000) for c in items],
                    "in_force": [c.ends_at > moment for c in items],
                },
                schema=WINDOW_SCHEMA,
            )
            for category, items in grouped.items()
        }

    def erase_subject(self, vin: str, *, request_id: str) -> int:
        """Delete every consent record of the subject ``vin`` (a VIN or a person id: a
        deletion request); returns how many."""
        consents = self.list(subject=vin)
        if not consents:
            return 0
        self.home.meta.execute("DELETE FROM consents WHERE vin = ?", (vin,))
        self.home.record(
            Activity.CONSENT_CHANGE,
            purpose="data-subject deletion request",
            dataset="consents",
            categories=tuple(sorted({c.category for c in consents})),
            counts={"consents": len(consents)},
            decision="erased",
            subject=self.home.subject_ref(vin),
            details={"request_id": request_id, "consent_ids": [c.id for c in consents]},
        )
        return len(consents)

    def _log(self, consent: Consent, decision: str, *, basis_id: str | None = None) -> None:
        details: dict[str, object] = {
            "consent_id": consent.id,
            "basis": consent.basis,
            "separate": consent.separate,
            "channel": consent.channel,
            "granted_at": iso(consent.granted_at),
            "expires_at": iso(consent.expires_at),
            "person": self.home.subject_ref(f"{consent.subject}/{consent.person}"),
            "subject_kind": consent.subject_kind,
        }
        if consent.withdrawn_at is not None:
            details["withdrawn_at"] = iso(consent.withdrawn_at)
        if consent.necessity:
            details["necessity"] = consent.necessity
        self.home.record(
            Activity.CONSENT_CHANGE,
            purpose=consent.purpose,
            dataset="consents",
            categories=(consent.category,),
            counts={"consents": 1},
            decision=decision,
            reasons=(basis_id,) if basis_id else (),
            subject=self.home.subject_ref(consent.subject),
            details=details,
        )
