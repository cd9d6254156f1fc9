"""One JSON encoding of the values JSON lacks: times, dates, bytes, enums.

The ledger fixed it first, and its hashes depend on it, so everything else follows the ledger:

* an aware ``datetime`` is UTC text with milliseconds, ``2024-05-01T08:00:00.000Z``: ISO 8601
  with its zone, one length, so it sorts as text (the ledger, the metadata database);
* a naive ``datetime`` has no zone to state and is refused by ``format_time``; ``to_jsonable``
  writes it as ISO 8601 to the millisecond without a zone rather than invent one;
* in ``to_jsonable`` (data, not the ledger) a time finer than a millisecond keeps its
  microseconds, ``2024-05-01T08:00:00.000250Z``: a data value is never rounded;
* a ``date`` is ``YYYY-MM-DD``, a ``time`` of day ``HH:MM:SS[.ffffff]``;
* ``bytes`` are lowercase hex (hashes, signatures, keys: ``root_hash``, ``leaf_hash``; a
  GB/T 32960 frame's binary fields; a binary column of a record);
* an ``Enum`` is its value; NumPy scalars and arrays are their Python values; tuples and sets
  are lists (a set sorted); NaN and infinity, which JSON cannot hold, are ``null``; anything
  else is its ``str``.

Every adapter that writes JSON (CLI output, JSON lines, quarantine files, the service's
bodies, Spark's bad records, manifests) goes through ``to_jsonable`` or ``dumps``; a test
(``tests/test_jsonenc.py``) refuses a ``json.dumps(..., default=...)`` anywhere else.

``canonical_json`` is the ledger's canonical form (what a leaf hash covers); it takes JSON values
only and converts nothing, so an entry decodes to the very value that was hashed.

>>> from datetime import date, datetime, timezone
>>> dumps({"at": datetime(2024, 5, 1, 8, tzinfo=timezone.utc), "day": date(2024, 5, 1),
...        "hash": b"\\x00\\xff"})
'{"at": "2024-05-01T08:00:00.000Z", "day": "2024-05-01", "hash": "00ff"}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any

from onshore.errors import BadInput


def format_time(moment: datetime) -> str:
    """UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``; a naive datetime is refused.

    >>> from datetime import timedelta, timezone
    >>> format_time(datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))))
    '2024-05-01T08:00:00.123Z'
    """
    if moment.tzinfo is None:
        raise BadInput("times must be timezone-aware (UTC)", field="time")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Inverse of ``format_time`` (any ISO 8601 text), in UTC. A time without a zone is UTC,
    never the machine's local time.

    >>> parse_time("2026-11-03 10:00").isoformat()
    '2026-11-03T10:00:00+00:00'
    >>> parse_time("2026-11-03T10:00:00+08:00").isoformat()
    '2026-11-03T02:00:00+00:00'
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def to_jsonable(value: Any) -> Any:
    """``value`` with times, dates, bytes, enums, tuples and sets made JSON values, recursively.

    >>> to_jsonable({"n": (1, float("nan")), "tags": {"b", "a"}})
    {'n': [1, None], 'tags': ['a', 'b']}
    """
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        fine = value.microsecond % 1000 != 0
        if value.tzinfo is None:
            return value.isoformat(timespec="microseconds" if fine else "milliseconds")
        if fine:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
        return format_time(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return to_jsonable(value.tolist())  # numpy.int64, numpy.bool_, numpy.ndarray ...
    return str(value)


def dumps(
    value: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = True,
    compact: bool = False,
    ensure_ascii: bool = False,
) -> str:
    """JSON text of ``to_jsonable(value)``; non-ASCII text is kept as it is unless
    ``ensure_ascii`` (an HTTP header); ``compact`` drops the spaces after ``,`` and ``:``.

    >>> dumps({"b": b"\\x01", "a": float("inf")}, sort_keys=False, compact=True)
    '{"b":"01","a":null}'
    """
    return json.dumps(
        to_jsonable(value),
        indent=indent,
        sort_keys=sort_keys,
        ensure_ascii=ensure_ascii,
        allow_nan=False,
        separators=(",", ":") if compact else None,
    )


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN; JSON values only.

    >>> canonical_json({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
