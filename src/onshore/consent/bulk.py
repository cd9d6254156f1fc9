"""Bulk consent import: a CSV or JSON-lines file of consents, checked row by row, written at once.

One row holds the consents of one subject (a vehicle or a person) for one or more categories and
purposes (one consent per category × purpose: separate consent, 单独同意)::

    subject,kind,categories,purposes,granted_at,expires_at,channel
    LSVAU2180N2183294,vehicle,location.trajectory,navigation,2026-01-05,2027-01-05,app
    geolife_000,person,location.trajectory;driving,navigation,2026-01-05T08:00:00Z,,app

======================  ============================================================================
column                  meaning
======================  ============================================================================
``subject`` or ``vin``  the subject's id; a ``vin`` column names vehicles
``kind``                ``vehicle`` or ``person``; default: ``vehicle`` for ``vin``, else ``person``
``category(ies)``       one or several categories of the pack, separated by ``;`` or ``|`` (JSON:
                        a list or such a string)
``purpose(s)``          one or several purposes of the pack's ``bases.yaml``, likewise
``granted_at``          when consent was given (ISO time or date, UTC); default: the import time
``expires_at``/``days`` the expiry (mandatory: a time, or days after ``granted_at``)
``withdrawn_at``        optional (``revoked_at`` too): a consent already withdrawn, kept as history
``person``              who consents (``owner``, ``driver:ID``); default ``owner``
``channel``             how consent was obtained (the pack's channels); default ``app``
``necessity``           why it is necessary (required for biometric categories)
======================  ============================================================================

Every row is checked as ``onshore consent grant`` checks one consent. A bad row is reported with
its line number and field and left out; the good rows are written in one transaction, with one
``consent_change`` ledger entry (counts, the file's SHA-256 digest, the lines rejected). A consent
already recorded (same subject, kind, category, purpose, grant and expiry; in the registry or
earlier in the file) is skipped, so importing the same file twice adds nothing.

>>> rows = parse_consent_file(b"vin,category,purpose,days\\nLSVAU2180N2183294,x,navigation,30\\n",
...                           name="c.csv")
>>> [(line, row["vin"], row["category"]) for line, row in rows]
[(2, 'LSVAU2180N2183294', 'x')]
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from onshore.errors import BadInput, PolicyRefusal
from onshore.ledger import Activity
from onshore.store.db import iso, parse_iso
from onshore.store.home import DataHome
from onshore.text import NAME_MAX, NOTE_MAX, check_text

from .model import PERSON, VEHICLE, Consent, check_grant, check_subject

COLUMNS = (
    "subject",
    "vin",
    "kind",
    "category",
    "categories",
    "purpose",
    "purposes",
    "granted_at",
    "expires_at",
    "days",
    "withdrawn_at",
    "revoked_at",
    "person",
    "channel",
    "necessity",
)
"""The columns (CSV header names, JSON keys) a consent file may have."""
MAX_ROWS = 1_000_000
"""The most rows one file may hold; split a larger one."""
MAX_PROBLEMS_IN_LEDGER = 1_000


@dataclass(frozen=True)
class RowProblem:
    """A row left out: its line in the file, the field and what is wrong."""

    line: int
    field: str
    message: str
    refused: bool = False  # refused by policy (a biometric category off-purpose)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, consents written and skipped, rows rejected."""

    file: str
    digest: str
    rows: int
    imported: int
    skipped: int
    rejected: tuple[RowProblem, ...]
    subjects: dict[str, int] = field(default_factory=dict)
    by_purpose: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_rejected(self) -> int:
        return len({p.line for p in self.rejected})

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "digest": self.digest,
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "rows_rejected": self.rows_rejected,
            "rejected": [p.to_dict() for p in self.rejected],
            "subjects": self.subjects,
            "by_purpose": self.by_purpose,
            "by_category": self.by_category,
            "seconds": round(self.seconds, 3),
        }


def file_format(name: str, data: bytes) -> str:
    """``csv`` or ``jsonl``: from the name's suffix, else from the first character."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "jsonl" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def parse_consent_file(
    data: bytes, *, name: str, fmt: str | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The rows of a consent file with their line numbers (the CSV header is line 1).

    A file that cannot be read as a whole (not UTF-8, an unknown column, no subject column) is
    refused with :class:`BadInput` naming the file; a bad row is returned as it is, for
    :func:`import_consents` to report.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"not UTF-8 text (byte {exc.start}, line {line}); save the file as UTF-8",
            file=name,
        ) from None
    kind = fmt or file_format(name, data)
    if kind not in ("csv", "jsonl"):
        raise BadInput(f"unknown format {kind!r} (csv or jsonl)", file=name, field="format")
    rows = list(_csv_rows(text, name) if kind == "csv" else _jsonl_rows(text))
    if len(rows) > MAX_ROWS:
        raise BadInput(f"{len(rows):,} rows; at most {MAX_ROWS:,} a file", file=name)
    return rows


def _csv_rows(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    _check_header(names, name)
    line = reader.line_num
    for values in reader:
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(names):
            yield start, {"__error__": f"{len(values)} values for {len(names)} columns"}
            continue
        yield start, {k: v for k, v in zip(names, values, strict=True) if v.strip() != ""}


def _check_header(names: Sequence[str], file: str) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise BadInput(
            f"unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})",
            file=file,
            field=unknown[0],
        )
    if len(set(names)) != len(names):
        raise BadInput("a column appears twice", file=file)
    if "subject" not in names and "vin" not in names:
        raise BadInput("no subject column (subject or vin)", file=file, field="subject")


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, {"__error__": f"not JSON: {exc.msg}"}
            continue
        if not isinstance(value, dict):
            yield number, {"__error__": "not a JSON object"}
            continue
        unknown = sorted(k for k in value if k not in COLUMNS)
        if unknown:
            yield number, {"__error__": f"unknown field {unknown[0]!r}", "__field__": unknown[0]}
            continue
        yield number, {k: v for k, v in value.items() if v is not None and v != ""}


class _Bad(Exception):
    def __init__(self, field: str, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.field, self.message, self.refused = field, message, refused


@functools.lru_cache(maxsize=4096)
def _checked(value: str, key: str, max_length: int) -> str:
    """:func:`check_text`, remembered: a file repeats its categories, purposes, channels."""
    return check_text(value, field=key, max_length=max_length)


def _text(row: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = row.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(key, f"expected text, got {type(value).__name__}")
    try:
        return _checked(str(value), key, NOTE_MAX)
    except BadInput as exc:
        raise _Bad(key, exc.message) from None


def _list(row: Mapping[str, Any], one: str, many: str) -> tuple[str, list[str]]:
    if one in row and many in row:
        raise _Bad(many, f"give {one} or {many}, not both")
    key = many if many in row else one
    value = row.get(key)
    if value is None:
        raise _Bad(one, "missing")
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.replace("|", ";").split(";")
    else:
        raise _Bad(key, f"expected text or a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _Bad(f"{key}[{i}]", f"expected text, got {type(item).__name__}")
        try:
            out.append(_checked(item, key, NAME_MAX))
        except BadInput as exc:
            raise _Bad(f"{key}[{i}]" if len(items) > 1 else key, exc.message) from None
    if len(set(out)) != len(out):
        raise _Bad(key, "a value appears twice")
    return key, out


def _time(row: Mapping[str, Any], key: str) -> datetime | None:
    text = _text(row, key)
    if text is None:
        return None
    try:
        return parse_iso(text if ("T" in text or " " in text) else text + "T00:00:00Z")
    except ValueError:
        raise _Bad(key, f"not an ISO 8601 time: {text!r}") from None


def _consents_of(
    home: DataHome, row: Mapping[str, Any], now: datetime
) -> list[tuple[Consent, str]]:
    """The consents one row stands for, each with its basis id; raises :class:`_Bad`."""
    if "__error__" in row:
        raise _Bad(str(row.get("__field__", "-")), str(row["__error__"]))
    if "subject" in row and "vin" in row:
        raise _Bad("vin", "give subject or vin, not both")
    id_key = "vin" if "vin" in row else "subject"
    subject = _text(row, id_key)
    if subject is None:
        raise _Bad(id_key, "missing")
    kind = _text(row, "kind", VEHICLE if id_key == "vin" else PERSON)
    if kind not in (VEHICLE, PERSON):
        raise _Bad("kind", f"unknown kind {kind!r} (vehicle or person)")
    if id_key == "vin" and kind != VEHICLE:
        raise _Bad("kind", "a vin column names vehicles; use a subject column for persons")
    try:
        subject = check_subject(subject, kind)
    except BadInput as exc:
        raise _Bad(id_key, exc.message) from None
    cat_key, categories = _list(row, "category", "categories")
    purpose_key, purposes = _list(row, "purpose", "purposes")
    granted = _time(row, "granted_at") or now
    if "expires_at" in row and "days" in row:
        raise _Bad("days", "give expires_at or days, not both")
    expires = _time(row, "expires_at")
    if "days" in row:
        days = row["days"]
        try:
            number = int(str(days).strip())
        except ValueError:
            raise _Bad("days", f"not a whole number of days: {days!r}") from None
        if not 1 <= number <= 36_500:
            raise _Bad("days", "between 1 and 36500 days")
        expires = granted + timedelta(days=number)
    if "withdrawn_at" in row and "revoked_at" in row:
        raise _Bad("revoked_at", "give withdrawn_at or revoked_at, not both")
    withdrawn_key = "revoked_at" if "revoked_at" in row else "withdrawn_at"
    withdrawn = _time(row, withdrawn_key)
    if withdrawn is not None and withdrawn < granted:
        raise _Bad(withdrawn_key, "withdrawn before it was granted")
    person = _text(row, "person", "owner") or "owner"
    channel = _text(row, "channel", "app") or "app"
    necessity = _text(row, "necessity")
    out = []
    for i, category in enumerate(categories):
        for j, purpose in enumerate(purposes):
            try:
                basis = check_grant(
                    home.pack,
                    subject=subject,
                    kind=kind,
                    category=category,
                    purpose=purpose,
                    granted_at=granted,
                    expires_at=expires,
                    channel=channel,
                    necessity=necessity,
                )
            except PolicyRefusal as exc:
                raise _Bad(_at(cat_key, i, categories), str(exc), refused=True) from None
            except BadInput as exc:
                where = {
                    "category": _at(cat_key, i, categories),
                    "purpose": _at(purpose_key, j, purposes),
                }.get(exc.field or "", exc.field or "-")
                raise _Bad(where, exc.message) from None
            assert expires is not None
            consent = Consent(
                id=f"c-{secrets.token_hex(8)}",
                subject=subject,
                person=person,
                category=category,
                purpose=purpose,
                basis=basis.basis,
                separate=True,
                channel=channel,
                granted_at=granted,
                expires_at=expires,
                withdrawn_at=withdrawn,
                necessity=necessity,
                actor=home.actor,
                subject_kind=kind,
            )
            out.append((consent, basis.id))
    return out


def _at(key: str, index: int, items: Sequence[str]) -> str:
    return f"{key}[{index}]" if len(items) > 1 else key


def _key(c: Consent) -> tuple[str, str, str, str, str, str]:
    return (c.subject_kind, c.subject, c.category, c.purpose, iso(c.granted_at), iso(c.expires_at))


def import_consents(
    home: DataHome, data: bytes, *, name: str, fmt: str | None = None
) -> ImportResult:
    """Import the consent file ``data`` (named ``name``); see the module doc."""
    from .registry import _COLUMNS, _MARKS

    started = time.perf_counter()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    rows = parse_consent_file(data, name=name, fmt=fmt)
    now = home.now()
    good: list[Consent] = []
    bases: set[str] = set()
    problems: list[RowProblem] = []
    for line, row in rows:
        try:
            consents = _consents_of(home, row, now)
        except _Bad as bad:
            problems.append(RowProblem(line, bad.field, bad.message, bad.refused))
            continue
        good.extend(c for c, _ in consents)
        bases.update(b for _, b in consents)
    seen = {
        (kind, subject, category, purpose, granted, expires)
        for subject, category, purpose, granted, expires, kind in home.meta.query(
            "SELECT vin, category, purpose, granted_at, expires_at, subject_kind FROM consents"
        )
    }
    fresh: list[Consent] = []
    for consent in good:
        key = _key(consent)
        if key not in seen:
            seen.add(key)
            fresh.append(consent)
    with home.meta.transaction():
        home.meta.executemany(
            f"INSERT INTO consents ({_COLUMNS}) VALUES ({_MARKS})", [c.to_row() for c in fresh]
        )
    result = ImportResult(
        file=name,
        digest=digest,
        rows=len(rows),
        imported=len(fresh),
        skipped=len(good) - len(fresh),
        rejected=tuple(problems),
        subjects={
            kind: len({c.subject for c in fresh if c.subject_kind == kind})
            for kind in (VEHICLE, PERSON)
        },
        by_purpose=_count(c.purpose for c in fresh),
        by_category=_count(c.category for c in fresh),
        seconds=time.perf_counter() - started,
    )
    home.record(
        Activity.CONSENT_CHANGE,
        purpose="bulk consent import",
        dataset="consents",
        categories=tuple(sorted(result.by_category)),
        counts={
            "consents": result.imported,
            "rows": result.rows,
            "rows_rejected": result.rows_rejected,
            "rows_refused": len({p.line for p in problems if p.refused}),
            "consents_skipped": result.skipped,
            "withdrawn": sum(1 for c in fresh if c.withdrawn_at is not None),
            "vehicles": result.subjects.get(VEHICLE, 0),
            "persons": result.subjects.get(PERSON, 0),
        },
        decision="imported",
        reasons=tuple(sorted(bases)),
        details={
            "file": name,
            "digest": digest,
            "bytes": len(data),
            "by_purpose": result.by_purpose,
            "by_category": result.by_category,
            # line and field only: a message may quote a subject's id, which the ledger never holds
            "rejected": [
                {"line": p.line, "field": p.field, "refused": p.refused}
                for p in problems[:MAX_PROBLEMS_IN_LEDGER]
            ],
        },
    )
    return result


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
