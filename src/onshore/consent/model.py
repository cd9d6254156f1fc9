"""Consent records and the pure rules a new consent must meet.

A consent is given by a person for one subject, for one category and one purpose (separate
consent, 单独同意), for a set period. The subject is a vehicle (its VIN) or a natural person (an
id the pack's ``person_subject_categories`` name, such as an app account: app and account data
key on a person, not a car). An expiry is mandatory and a "permanent" consent, or one longer
than the pack's ceiling, is refused (GB/T 41871-2022). Biometric categories may be consented to
only for the pack's biometric purposes (driving safety), with the necessity
recorded (Provisions 2021, Art. 9).

>>> from datetime import datetime, timedelta, timezone
>>> from onshore.packs import load_pack
>>> t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
>>> check_grant(load_pack(), vin="LSVAU2180N2183294", category="location.trajectory",
...             purpose="navigation", granted_at=t0, expires_at=t0 + timedelta(days=365),
...             channel="app", necessity=None).basis
'separate_consent'
>>> check_subject("geolife_000", "person")
'geolife_000'
>>> check_subject("geolife_000", "vehicle")
Traceback (most recent call last):
...
onshore.errors.BadInput: field 'vin': 'geolife_000' is not a 17-character VIN
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from onshore.errors import BadInput, PackError, PolicyRefusal
from onshore.packs import Pack
from onshore.packs.bases import Bases, Basis
from onshore.store.db import iso, parse_iso
from onshore.text import check_text

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
PERMANENT_WORDS = frozenset({"permanent", "forever", "never", "always", "none", "infinite", ""})
VEHICLE, PERSON = "vehicle", "person"
SUBJECT_KINDS = (VEHICLE, PERSON)
PERSON_ID_MAX = 128
"""The longest person id (characters): an account id, a pseudonym, a phone number."""


def check_subject(subject: str, kind: str = VEHICLE) -> str:
    """The subject id, checked for its kind; :class:`BadInput` otherwise.

    A vehicle is a 17-character VIN (ISO 3779); a person id is printable text of at most
    :data:`PERSON_ID_MAX` characters (:func:`onshore.text.check_text`), kept as given.
    """
    if kind == VEHICLE:
        if not isinstance(subject, str) or not VIN_RE.match(subject):
            raise BadInput(f"{subject!r} is not a 17-character VIN", field="vin")
        return subject
    if kind == PERSON:
        return check_text(subject, field="subject", max_length=PERSON_ID_MAX)
    raise BadInput(
        f"unknown subject kind {kind!r} (one of: {', '.join(SUBJECT_KINDS)})", field="kind"
    )


def resolve_subject(
    vin: str | None, subject: str | None, kind: str | None, *, required: bool
) -> tuple[str | None, str | None]:
    """The subject id and kind that ``--vin`` / ``--subject`` / ``--kind`` (or the same API
    fields) name: ``vin`` is a vehicle; ``subject`` is a person unless ``kind`` says vehicle.

    >>> resolve_subject(None, "geolife_000", None, required=True)
    ('geolife_000', 'person')
    """
    if vin is not None and subject is not None:
        raise BadInput("give vin or subject, not both", field="subject")
    if kind is not None and kind not in SUBJECT_KINDS:
        raise BadInput(f"unknown kind {kind!r} (one of: {', '.join(SUBJECT_KINDS)})", field="kind")
    if vin is not None:
        if kind not in (None, VEHICLE):
            raise BadInput("vin names a vehicle; give subject for a person", field="kind")
        return vin, VEHICLE
    if subject is not None:
        return subject, kind or PERSON
    if kind is not None:
        raise BadInput("kind needs a subject", field="kind")
    if required:
        raise BadInput("give a vin or a subject (a person's id)", field="subject")
    return None, None


@dataclass(frozen=True)
class Consent:
    """One consent: who, for which subject, category and purpose, from when until when.

    ``subject`` is a VIN when ``subject_kind`` is ``vehicle``, a person's id when ``person``.
    """

    id: str
    subject: str
    person: str
    category: str
    purpose: str
    basis: str
    separate: bool
    channel: str
    granted_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None
    necessity: str | None
    actor: str
    subject_kind: str = VEHICLE

    @property
    def vin(self) -> str | None:
        """The VIN of a vehicle subject; None for a person."""
        return self.subject if self.subject_kind == VEHICLE else None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Consent:
        (
            cid,
            vin,
            person,
            cat,
            purpose,
            basis,
            sep,
            channel,
            granted,
            expires,
            withdrawn,
            necessity,
            actor,
            kind,
        ) = row
        return cls(
            cid,
            vin,
            person,
            cat,
            purpose,
            basis,
            bool(sep),
            channel,
            parse_iso(granted),
            parse_iso(expires),
            parse_iso(withdrawn) if withdrawn else None,
            necessity,
            actor,
            kind or VEHICLE,
        )

    def to_row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.subject,
            self.person,
            self.category,
            self.purpose,
            self.basis,
            int(self.separate),
            self.channel,
            iso(self.granted_at),
            iso(self.expires_at),
            iso(self.withdrawn_at) if self.withdrawn_at else None,
            self.necessity,
            self.actor,
            self.subject_kind,
        )

    @property
    def ends_at(self) -> datetime:
        """When it stops covering data: expiry or withdrawal, whichever comes first."""
        if self.withdrawn_at is not None and self.withdrawn_at < self.expires_at:
            return self.withdrawn_at
        return self.expires_at

    def active_at(self, moment: datetime) -> bool:
        return self.granted_at <= moment < self.ends_at

    def status(self, moment: datetime) -> str:
        if self.withdrawn_at is not None and self.withdrawn_at <= moment:
            return "withdrawn"
        if moment >= self.expires_at:
            return "expired"
        return "active" if moment >= self.granted_at else "pending"

    def to_dict(self, moment: datetime | None = None) -> dict[str, Any]:
        out = {
            "id": self.id,
            "subject": self.subject,
            "subject_kind": self.subject_kind,
            "vin": self.vin,
            "person": self.person,
            "category": self.category,
            "purpose": self.purpose,
            "basis": self.basis,
            "separate": self.separate,
            "channel": self.channel,
            "granted_at": iso(self.granted_at),
            "expires_at": iso(self.expires_at),
            "withdrawn_at": iso(self.withdrawn_at) if self.withdrawn_at else None,
            "necessity": self.necessity,
            "actor": self.actor,
        }
        if moment is not None:
            out["status"] = self.status(moment)
        return out


def pack_bases(pack: Pack) -> Bases:
    if pack.bases is None:
        raise PackError(f"pack {pack.name!r} has no bases.yaml (legal bases per purpose)")
    return pack.bases


def check_purpose(pack: Pack, purpose: str) -> None:
    keys = pack_bases(pack).purpose_keys
    if purpose not in keys:
        raise BadInput(
            f"unknown purpose {purpose!r} (the pack declares: {', '.join(sorted(keys))})",
            field="purpose",
        )


def check_grant(
    pack: Pack,
    *,
    vin: str | None = None,
    subject: str | None = None,
    kind: str = VEHICLE,
    category: str,
    purpose: str,
    granted_at: datetime,
    expires_at: datetime | None,
    channel: str,
    necessity: str | None,
) -> Basis:
    """Validate a new consent; returns the consent basis it serves. Raises on any problem.

    The subject is ``vin`` (a vehicle) or ``subject`` of ``kind``. ``PolicyRefusal`` for a
    biometric category outside its allowed purposes; ``BadInput`` for everything else (a bad
    VIN or person id, unknown category, purpose, channel; no or too long expiry).
    """
    bases = pack_bases(pack)
    if vin is not None:
        subject, kind = vin, VEHICLE
    if subject is None:
        raise BadInput("a consent needs its subject (a VIN or a person id)", field="subject")
    check_subject(subject, kind)
    if category not in pack.categories:
        raise BadInput(f"unknown category {category!r}", field="category")
    check_purpose(pack, purpose)
    if bases.is_biometric(pack, category):
        rule = bases.biometric
        if purpose not in rule.purposes:
            raise PolicyRefusal(
                f"refused: biometric category {category!r} only for "
                f"{', '.join(rule.purposes)}, not {purpose!r} [{rule.rule_id}; "
                f"{pack.legal_ref(rule.ref)}]"
            )
        if rule.require_necessity and not (necessity or "").strip():
            raise BadInput(
                "a biometric consent needs the necessity recorded (--necessity)",
                field="necessity",
            )
    covering = [b for b in bases.covering(pack, category, purpose) if b.needs_consent]
    if not covering:
        raise BadInput(
            f"consent is not a basis for {category!r} for purpose {purpose!r} in pack "
            f"{pack.name!r} (see bases.yaml)",
            field="category",
        )
    if channel not in bases.settings.channels:
        raise BadInput(
            f"unknown channel {channel!r} (one of: {', '.join(bases.settings.channels)})",
            field="channel",
        )
    if expires_at is None:
        raise BadInput(
            "a consent needs an expiry: a permanent consent is not allowed "
            f"({pack.legal_ref(bases.settings.consent_max_ref)})",
            field="expires_at",
        )
    if expires_at <= granted_at:
        raise BadInput("the expiry must come after the grant", field="expires_at")
    ceiling = timedelta(days=bases.settings.consent_max_days)
    if expires_at - granted_at > ceiling:
        raise BadInput(
            f"a consent of {(expires_at - granted_at).days} days counts as permanent "
            f"(at most {ceiling.days} days; {pack.legal_ref(bases.settings.consent_max_ref)})",
            field="expires_at",
        )
    separate = [b for b in covering if b.basis == "separate_consent"]
    return (separate or covering)[0]
