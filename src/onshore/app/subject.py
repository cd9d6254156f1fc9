"""Data-subject requests for one vehicle or person: access (export) and deletion.

The CLI (``onshore subject export|delete``), the service (``POST /v1/subjects/{vin}/export``,
``DELETE /v1/subjects/{vin}``, which the console calls) and a library user call these, so a
request means the same everywhere: the VIN is checked, the time the request was received is
read one way (:func:`received_time`), the request is recorded in ``subject_requests`` and on the
ledger, and the result is a value (:class:`SubjectExport`, :class:`DeletionResult`) that the
runner renders. What an export holds and how a deletion erases every registered place is
:mod:`onshore.store.subject`'s.

>>> received_time("2026-09-28")
datetime.datetime(2026, 9, 28, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from onshore.errors import BadInput
from onshore.store.db import parse_iso
from onshore.store.home import DataHome
from onshore.store.subject import DeletionResult, SubjectExport, delete_subject, export_subject

__all__ = ["DeletionResult", "SubjectExport", "delete", "export", "export_zip", "received_time"]


def received_time(text: str | None, field: str = "received") -> datetime | None:
    """When a request was received, from ISO 8601 text: a date alone is its UTC midnight, a
    time without a zone is UTC; ``None`` stays ``None`` (the request is received now).

    >>> received_time("2026-09-28T10:00:00+08:00").isoformat()
    '2026-09-28T02:00:00+00:00'
    """
    if text is None:
        return None
    try:
        return parse_iso(text if ("T" in text or " " in text) else text + "T00:00:00Z")
    except ValueError as exc:
        raise BadInput(f"not an ISO 8601 time: {text!r}", field=field) from exc


def export(home: DataHome, vin: str, out: Path, *, kind: str = "vehicle") -> SubjectExport:
    """Write everything held about ``vin`` (a person's id when ``kind`` is ``person``) to
    ``out`` (a new folder, or a file ending in ``.zip``): its lake rows, metadata, consents,
    requests and ledger entries. The request is recorded as completed and the read is a
    ``view`` entry on the ledger."""
    return export_subject(home, vin, out, kind=kind)


def export_zip(home: DataHome, vin: str, *, kind: str = "vehicle") -> tuple[bytes, SubjectExport]:
    """:func:`export` as the bytes of a zip (what the service sends), built in a private
    temporary folder that is removed before returning."""
    with tempfile.TemporaryDirectory(prefix="onshore-export-") as tmp:
        target = Path(tmp) / "export.zip"  # never a name built from the request
        result = export_subject(home, vin, target, kind=kind)
        return target.read_bytes(), result


def delete(
    home: DataHome,
    vin: str,
    *,
    received: datetime | str | None = None,
    kind: str = "vehicle",
) -> DeletionResult:
    """Erase ``vin`` (a person's id when ``kind`` is ``person``) from every place that can hold
    it, scan them all again, and record the request (due in the pack's working days after
    ``received``, default now) and its evidence (a ``deletion`` ledger entry; the recipients to
    tell under PIPL Art. 47)."""
    at = received_time(received) if isinstance(received, str) else received
    return delete_subject(home, vin, received_at=at, kind=kind)
