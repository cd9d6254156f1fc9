"""The consent registry: consents per vehicle and person, per category and purpose.

Consents live in the metadata database (``consents``); every change (grant, withdrawal,
erasure) is a ``consent_change`` ledger entry that names the vehicle by its pseudonym only.
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
>>> len(before["location.trajectory"]), len(after)
(1, 0)
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyarrow as pa

from onshore.errors import BadInput, PolicyRefusal
from onshore.ledger import Activity
from onshore.store.db import iso
from onshore.store.home import DataHome

from .model import Consent, check_grant, check_purpose

_COLUMNS = (
    "id, vin, person, category, purpose, basis, separate, channel, granted_at, expires_at,"
    " withdrawn_at, necessity, actor"
)
WINDOW_SCHEMA = pa.schema([("vin", pa.string()), ("start_ms", pa.int64()), ("end_ms", pa.int64())])


class ConsentRegistry:
    """Grant, withdraw and list consents in a data home."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.pack = home.pack

    def grant(
        self,
        vin: str,
        category: str,
        purpose: str,
        *,
        expires_at: datetime | None,
        person: str = "owner",
        channel: str = "app",
        necessity: str | None = None,
        granted_at: datetime | None = None,
    ) -> Consent:
        """Record a separate consent; refuses a permanent one and biometrics off-purpose."""
        granted = granted_at or self.home.now()
        try:
            basis = check_grant(
                self.pack,
                vin=vin,
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
                subject=self.home.subject_ref(vin),
                details={"action": "consent grant", "reason": str(exc)},
            )
            raise
        assert expires_at is not None
        consent = Consent(
            id=f"c-{secrets.token_hex(8)}",
            vin=vin,
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
        )
        self.home.meta.execute(
            f"INSERT INTO consents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            consent.to_row(),
        )
        self._log(consent, "granted", basis_id=basis.id)
        return consent

    def withdraw(
        self,
        consent_id: str | None = None,
        *,
        vin: str | None = None,
        category: str | None = None,
        purpose: str | None = None,
    ) -> list[Consent]:
        """Withdraw one consent by id, or every active one matching vin/category/purpose."""
        now = self.home.now()
        if consent_id is not None:
            targets = [c for c in self.list() if c.id == consent_id]
            if not targets:
                raise BadInput(f"no consent {consent_id!r}", field="id")
        elif vin is not None:
            targets = [
                c
                for c in self.list(vin=vin)
                if (category is None or c.category == category)
                and (purpose is None or c.purpose == purpose)
            ]
        else:
            raise BadInput("give a consent id or --vin", field="id")
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

    def list(self, *, vin: str | None = None, purpose: str | None = None) -> list[Consent]:
        """Consents, oldest first, optionally for one vehicle or purpose."""
        where, params = [], []
        if vin is not None:
            where.append("vin = ?")
            params.append(vin)
        if purpose is not None:
            where.append("purpose = ?")
            params.append(purpose)
        sql = f"SELECT {_COLUMNS} FROM consents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.home.meta.query(sql + " ORDER BY granted_at, id", params)
        return [Consent.from_row(r) for r in rows]

    def windows(self, purpose: str, at: datetime | None = None) -> dict[str, pa.Table]:
        """For the gate: per consented category, the (vin, start, end) windows still in force.

        A consent that is withdrawn or expired at ``at`` (default now) covers nothing.
        """
        check_purpose(self.pack, purpose)
        moment = at or self.home.now()
        grouped: dict[str, list[Consent]] = {}
        for consent in self.list(purpose=purpose):
            if consent.ends_at > moment:
                grouped.setdefault(consent.category, []).append(consent)
        return {
            category: pa.table(
                {
                    "vin": [c.vin for c in items],
                    "start_ms": [int(c.granted_at.timestamp() * 1000) for c in items],
                    "end_ms": [int(c.ends_at.timestamp() * 1000) for c in items],
                },
                schema=WINDOW_SCHEMA,
            )
            for category, items in grouped.items()
        }

    def erase_subject(self, vin: str, *, request_id: str) -> int:
        """Delete every consent record of ``vin`` (a deletion request); returns how many."""
        consents = self.list(vin=vin)
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
            "person": self.home.subject_ref(f"{consent.vin}/{consent.person}"),
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
            subject=self.home.subject_ref(consent.vin),
            details=details,
        )
