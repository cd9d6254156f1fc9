"""Read back a quarantine file (JSON lines of bad records) to say why rows were refused.

A command that stores or writes nothing because every row was quarantined is not a success:
it exits 2 (bad input) with one line naming the count and the first reasons, read here.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from itertools import islice

SAMPLE_LINES = 1000
"""How many quarantined records the reasons are counted over (the file may be large)."""


def first_reasons(path: str | os.PathLike[str] | None, limit: int = 3) -> list[tuple[str, int]]:
    """The ``limit`` most common reasons among the file's first records, with their counts.

    A reason reads ``field 'crs': unknown coordinate system``, or the bare error when the record
    names no field. A missing or unreadable file gives no reasons, never an error."""
    if path is None:
        return []
    counts: Counter[str] = Counter()
    try:
        with open(path, encoding="utf-8") as fh:
            for line in islice(fh, SAMPLE_LINES):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(record, dict):
                    continue
                error = str(record.get("error") or "no reason given")
                field = record.get("field")
                counts[f"field {field!r}: {error}" if field else error] += 1
    except OSError:
        return []
    return counts.most_common(limit)


def nothing_stored(quarantined: int, quarantine: str | None, *, verb: str) -> str:
    """One line: ``{verb} 0 rows: all N rows quarantined in PATH (first reasons: …)``."""
    reasons = "; ".join(f"{r} ({n}x)" for r, n in first_reasons(quarantine))
    where = f" in {quarantine}" if quarantine else ""
    why = f"; first reasons: {reasons}" if reasons else ""
    return f"{verb} 0 rows: all {quarantined} rows were quarantined{where}{why}"
