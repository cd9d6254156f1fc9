"""Every place that can hold personal data, in one registry: what erasure and retention walk.

A :class:`Place` names what it holds, the metadata tables and the home's folders or files it
owns, and how to erase a vehicle from it (``erase``), check it again afterwards (``scan``) and
apply retention to it (``purge``). ``onshore subject delete`` erases the vehicle from every
registered place, rescans all of them and lists each in the evidence; ``onshore store purge``
walks the same registry. A place that cannot be checked from here (a log shipped elsewhere, a
backup, a file handed to the person) says so, and is never counted as "0 remaining".

A component that stores data registers a place, through the same call the built-ins use
(:func:`register_place`); the built-ins are listed in :data:`BUILTIN_PLACES` (modules each
exposing ``PLACES``). ``tests/store/test_places.py`` fails when a table or a folder of the
home holds a VIN and no place claims it.

>>> [p.name for p in places()][:4]
['lake', 'consents', 'ingest-keys', 'quarantine']
"""

from __future__ import annotations

import base64
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from onshore.store.home import DataHome

Status = Literal[
    "erased",  # found and removed (or redacted); rescanned: none left
    "clean",  # nothing of the vehicle was there; rescanned
    "pseudonymous",  # holds the vehicle only under keyed pseudonyms (kept, and said so)
    "retained",  # kept under an exception the pack states, with its legal reference
    "not_checkable",  # outside what Onshore can read: the note says where and who acts
    "no_personal_data",  # holds no personal data by construction
]

BUILTIN_PLACES = (
    "onshore.store.erasers",
    "onshore.transfer.outbox",
)
"""Modules whose ``PLACES`` are registered first, in this order."""


@dataclass
class ErasureJob:
    """One deletion request, as every place's ``erase`` and ``scan`` see it."""

    home: DataHome
    vin: str  # the subject: a VIN, or a person's id when ``kind`` is "person"
    request_id: str
    before_replace: Callable[[Path], None] | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # what one place tells a later one
    kind: str = "vehicle"


@dataclass(frozen=True)
class Erased:
    """What ``erase`` found and did in one place."""

    found: int = 0
    removed: int = 0
    status: Status = "erased"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaceReport:
    """One place in a deletion's evidence: what it holds, found, did, and found afterwards
    (``remaining`` None: not checkable here, ``note`` says why)."""

    place: str
    holds: str
    status: Status
    found: int
    removed: int
    remaining: int | None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Purged:
    """What retention removed from one place: counts, and details for the ledger entry."""

    counts: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)  # past retention, not removed
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    """A place that can hold personal data (or that is declared to hold none)."""

    name: str
    holds: str
    tables: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # under the home: a folder, a file, or a glob
    erase: Callable[[ErasureJob], Erased] | None = None
    scan: Callable[[ErasureJob], int | None] | None = None
    purge: Callable[[DataHome, datetime, bool], Purged] | None = None
    order: int = 50  # erase in ascending order (the database files come last)
    note: str = ""  # for a place with no erase: why (not checkable, no personal data)
    status: Status = "no_personal_data"  # the status of a place with no erase


_REGISTRY: dict[str, Place] = {}
_LOADED = False


def register_place(place: Place) -> None:
    """Add ``place`` to the registry; a name is registered once."""
    if place.name in _REGISTRY and _REGISTRY[place.name] is not place:
        raise ValueError(f"place {place.name!r} is already registered")
    _REGISTRY[place.name] = place


def places() -> list[Place]:
    """Every registered place, in erasure order (the built-ins loaded on first use)."""
    global _LOADED
    if not _LOADED:
        for module in BUILTIN_PLACES:
            for place in importlib.import_module(module).PLACES:
                register_place(place)
        _LOADED = True
    return sorted(_REGISTRY.values(), key=lambda p: (p.order, p.name))


def claimed_tables() -> set[str]:
    return {t for p in places() for t in p.tables}


def claimed(home_relative: str) -> Place | None:
    """The place that claims a path under the home (its first component matches)."""
    top = Path(home_relative).parts[0]
    for place in places():
        for pattern in place.paths:
            if Path(top).match(pattern) or home_relative == pattern:
                return place
    return None


# -- finding a VIN in bytes ----------------------------------------------------------------------
def vin_forms(vin: str) -> list[bytes]:
    """The byte strings a VIN is found as in a file: itself, UTF-16, hex (both cases) and the
    three base64 alignments (without the boundary characters that depend on neighbours)."""
    raw = vin.encode("utf-8")  # a VIN is ASCII; a person's id may not be
    forms = [raw, vin.encode("utf-16-le"), raw.hex().encode(), raw.hex().upper().encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = -(-8 * shift // 6)  # the first character made of the VIN's bits only
        forms.append(encoded[start : start + 16])
    return forms


def count_vin_bytes(data: bytes, vin: str) -> int:
    """Occurrences of ``vin`` in ``data`` in any of :func:`vin_forms`.

    A subject id that is not a VIN (a person's id: ``geolife_000``) is matched as a whole token
    only, so that ``geolife_000`` is not found inside ``geolife_0001``: as itself, UTF-16 or
    hex, not bordered by a letter, digit, ``_`` or a non-ASCII byte (hex: a hex digit).

    >>> count_vin_bytes(b'{"user_id": "geolife_0001"}', "geolife_000")
    0
    >>> count_vin_bytes(b'{"user_id": "geolife_000"}', "geolife_000")
    1
    """
    if _VIN_ONLY.match(vin):
        return sum(data.count(form) for form in vin_forms(vin))
    return sum(len(p.findall(data)) for p in _token_patterns(vin))


_VIN_ONLY = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_WORD = rb"A-Za-z0-9_\x80-\xff"


def _token_patterns(subject: str) -> list[re.Pattern[bytes]]:
    raw = subject.encode("utf-8")
    wide = subject.encode("utf-16-le")
    out = [
        re.compile(rb"(?<![" + _WORD + rb"])" + re.escape(raw) + rb"(?![" + _WORD + rb"])"),
        re.compile(rb"(?<![A-Za-z0-9_]\x00)" + re.escape(wide) + rb"(?![A-Za-z0-9_]\x00)"),
    ]
    for text in (raw.hex().encode(), raw.hex().upper().encode()):
        out.append(re.compile(rb"(?<![0-9A-Fa-f])" + text + rb"(?![0-9A-Fa-f])"))
    return out


VIN_PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])")


def mask_vins(text: str) -> str:
    """``text`` with every VIN-shaped token replaced by ``[VIN]``.

    >>> mask_vins('"DELETE /v1/subjects/LSVAU2180N2183294 HTTP/1.1" 200')
    '"DELETE /v1/subjects/[VIN] HTTP/1.1" 200'
    """
    return VIN_PATTERN.sub("[VIN]", text)


def reports_total(reports: Iterable[PlaceReport]) -> tuple[int, list[str]]:
    """Remaining occurrences over checked places, and the places that could not be checked."""
    total = 0
    unchecked: list[str] = []
    for report in reports:
        if report.remaining is None:
            if report.status in ("not_checkable", "retained"):
                unchecked.append(report.place)
        else:
            total += report.remaining
    return total, unchecked
