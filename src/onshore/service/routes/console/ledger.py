"""``/v1/console/ledger/entries``: a search over the ledger's entries, newest first. Entries
naming a subject make the search a read of personal data (a ``view`` entry, and the transfer
gate first for a client abroad)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Query, Request

from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.routes.console.shared import ERRORS, READERS
from onshore.text import check_text

router = APIRouter(tags=["console"])


@router.get(
    "/v1/console/ledger/entries",
    summary="Search the ledger's entries (newest first)",
    responses=ERRORS,
)
def ledger_entries(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="gate"))],
    request: Request,
    q: str | None = Query(None, max_length=200, description="Text anywhere in the entry"),
    kind: str | None = Query(None, description="An activity: collection, export, view …"),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=0, description="Only entries below this index"),
) -> dict[str, Any]:
    """Entries that name a subject (by pseudonym) make the search a read of personal data:
    a ``view`` entry then records it."""
    if kind is not None and kind not in {a.value for a in Activity}:
        raise BadInput(
            f"unknown kind {kind!r} (one of {', '.join(a.value for a in Activity)})",
            field="kind",
        )
    if q is not None:
        q = check_text(q, field="q", empty=True) or None
    needle = q.casefold() if q else None
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        size = home.ledger.size()
        stop = size if before is None else min(before, size)
        found: list[dict[str, Any]] = []
        matched = 0
        for index, entry in home.ledger.entries(kind=kind, stop=stop):
            data = entry.to_dict()
            if needle and needle not in json.dumps(data, ensure_ascii=False).casefold():
                continue
            matched += 1
            found.append({"index": index} | data)
        found.reverse()
        shown = found[:limit]
        subjects = sorted({e["subject"] for e in shown if e.get("subject")})
        if subjects:
            table = pa.table({"vehicle_id_pseudonym": subjects})
            gate_read(state, home, principal, table, "ledger search")
            home.record(
                Activity.VIEW,
                purpose=principal.purpose or "ledger search (console)",
                dataset="ledger",
                counts={"entries": len(shown), "subjects": len(subjects)},
                decision="read",
                # The search term may be a VIN or any text: the ledger keeps its digest only.
                details={
                    "q_sha256": hashlib.sha256(q.encode()).hexdigest() if q else None,
                    "kind": kind,
                    "country": principal.country,
                },
            )
    return {"size": size, "matched": matched, "entries": shown}
