"""What the console's views share: the roles that may read, the documented errors, and a
pack reference as the transfer gate's reasons carry it."""

from __future__ import annotations

from typing import Any

from onshore.service.problems import documented
from onshore.store import DataHome

READERS = ("compliance", "auditor", "operator")
ERRORS = documented(401, 403, 422, 503)


def legal_ref(home: DataHome, ref: Any) -> dict[str, str]:
    """A pack reference as the transfer gate's reasons carry it (instrument, article, text)."""
    legal = home.pack.legal_ref(ref)
    return {"instrument": legal.instrument, "article": legal.article, "text": str(legal)}
