"""``/v1/console/subjects/{vin}`` and ``/v1/console/requests``: what is held about a vehicle,
and the subject-request queue with due dates and overdue items. Both are reads of personal
data: ``view`` entries on the ledger, and for a client abroad the transfer gate first."""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Path, Query, Request

from onshore.classify import LABEL_COLUMNS
from onshore.jsonenc import to_jsonable
from onshore.ledger import Activity
from onshore.model import Level
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import documented
from onshore.service.routes.subjects import VIN
from onshore.store import Lake
from onshore.text import check_text

router = APIRouter(tags=["console"])
SAMPLE_ROWS = 10  # per dataset


@router.get(
    "/v1/console/subjects/{vin}",
    summary="What is held about a vehicle: rows per dataset, a sample, requests, ledger entries",
    responses=documented(400, 401, 403, 422, 503),
)
def subject(
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="gate"))],
    request: Request,
    vin: str = Path(pattern=VIN, description="The vehicle's VIN"),
) -> dict[str, Any]:
    """A read of personal data: a ``view`` entry naming the vehicle by its pseudonym, and for
    a client abroad the transfer gate first (on the rows shown)."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        lake = Lake(home)
        per: dict[str, dict[str, Any]] = {}
        parts: dict[str, list[pa.Table]] = {}
        for store, lake_file in lake.all_files():
            found = lake.read_vin(store, lake_file, vin)
            if found is None or found.num_rows == 0:
                continue
            d = per.setdefault(
                lake_file.dataset,
                {
                    "dataset": lake_file.dataset,
                    "rows": 0,
                    "files": 0,
                    "stores": set(),
                    "levels": set(),
                    "columns": [],
                },
            )
            d["rows"] += found.num_rows
            d["files"] += 1
            d["stores"].add(store.name)
            d["levels"].add(lake_file.level)
            keep = [c for c in found.column_names if c not in LABEL_COLUMNS]
            d["columns"] = list(dict.fromkeys([*d["columns"], *keep]))
            taken = parts.setdefault(lake_file.dataset, [])
            room = SAMPLE_ROWS - sum(p.num_rows for p in taken)
            if room > 0:
                taken.append(found.select(keep).slice(0, room).replace_schema_metadata(None))
        samples = {
            name: pa.concat_tables(tables, promote_options="permissive")
            for name, tables in parts.items()
        }
        refs = home.subject_refs(vin)
        marks = ", ".join("?" for _ in refs)
        requests = home.meta.query(
            "SELECT id, kind, received_at, due_date, completed_at, status FROM subject_requests "
            f"WHERE subject IN ({marks}) ORDER BY received_at",
            refs,
        )
        entries = sum(1 for _i, e in home.ledger.entries() if e.subject in refs)
        # From abroad each dataset's rows pass the gate on their own, the most sensitive
        # first: in one mixed table a person identifier of one dataset (null in the others)
        # would name the individuals, and rows without it would go uncounted.
        allowed = []
        for name in sorted(samples, key=lambda n: -max(Level.parse(v) for v in per[n]["levels"])):
            outcome = gate_read(
                state,
                home,
                principal,
                samples[name],
                f"subject {vin} {name}",
                label=f"subject lookup {name}",
            )
            if outcome is not None:
                allowed.append(outcome)
        subject_ref = home.subject_ref(vin)
        home.record(
            Activity.VIEW,
            purpose=principal.purpose or "data-subject lookup (console)",
            dataset="subjects",
            counts={
                "rows": sum(d["rows"] for d in per.values()),
                "rows_shown": sum(t.num_rows for t in samples.values()),
            },
            decision="read",
            subject=subject_ref,
            details={"country": principal.country, "abroad": principal.abroad},
        )
    return {
        "vin": vin,
        "subject": subject_ref,
        "datasets": [
            d
            | {
                "stores": sorted(d["stores"]),
                "levels": sorted(d["levels"]),
                "sample": to_jsonable(samples[name].to_pylist()),
                "sample_columns": samples[name].column_names,
            }
            for name, d in per.items()
        ],
        "requests": [
            dict(
                zip(
                    ("id", "kind", "received_at", "due_date", "completed_at", "status"),
                    r,
                    strict=True,
                )
            )
            for r in requests
        ],
        "ledger_entries": entries,
        "remote_access": allowed or None,
    }


@router.get(
    "/v1/console/requests",
    summary="Data-subject requests with due dates (working days), overdue ones flagged",
    responses=documented(401, 403, 503),
)
def subject_requests(
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="gate"))],
    request: Request,
    kind: str | None = Query(None, description="deletion, access …"),
) -> dict[str, Any]:
    """Each request names its vehicle by pseudonym only; the list is a ``view`` entry.
    ``overdue``: still open after its due date, or completed after it."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        today = state.gate().today()
        sql = (
            "SELECT id, kind, subject, received_at, due_date, due_confidence, completed_at, "
            "status FROM subject_requests"
        )
        params: list[Any] = []
        if kind:
            kind = check_text(kind, field="kind", max_length=40)
            sql += " WHERE kind = ?"
            params.append(kind)
        rows = home.meta.query(sql + " ORDER BY received_at DESC", params)
        out = []
        for r in rows:
            item = dict(
                zip(
                    (
                        "id",
                        "kind",
                        "subject",
                        "received_at",
                        "due_date",
                        "due_confidence",
                        "completed_at",
                        "status",
                    ),
                    r,
                    strict=True,
                )
            )
            due = item["due_date"]
            done = item["completed_at"]
            item["overdue"] = bool(
                due and ((not done and today.isoformat() > due) or (done and done[:10] > due))
            )
            out.append(item)
        subjects = sorted({str(item["subject"]) for item in out if item["subject"]})
        if subjects:
            table = pa.table({"vehicle_id_pseudonym": subjects})
            gate_read(state, home, principal, table, "subject request queue")
        days = home.pack.retention.deletion_due_working_days if home.pack.retention else None
        home.record(
            Activity.VIEW,
            purpose=principal.purpose or "subject request queue (console)",
            dataset="subject_requests",
            counts={"requests": len(out)},
            decision="read",
            details={"kind": kind, "country": principal.country},
        )
    return {"today": today.isoformat(), "due_working_days": days, "requests": out}
