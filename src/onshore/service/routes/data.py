"""``POST /v1/scan`` and ``POST /v1/desensitize``: classify or desensitize the body's rows.

The rows are the client's own (the body), not the data home's: nothing is stored. Each call is
a ``use`` entry on the ledger (who, what level, which categories, how many rows).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.ipc as ipc
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from onshore import app
from onshore.desensitize import pseudonym_key
from onshore.errors import BadInput
from onshore.io.chunks import chunks_of
from onshore.jsonenc import dumps, to_jsonable
from onshore.model import Assessment, BadRecord
from onshore.service import bodies
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import DesensitizeResult, ScanResult
from onshore.service.problems import ServiceProblem, documented
from onshore.service.routes.ingest import raw_body
from onshore.text import Name

router = APIRouter(tags=["classify"])
ACCEPTED = (bodies.JSONL, bodies.CSV, bodies.PARQUET, bodies.ARROW_STREAM, bodies.ARROW_FILE)
BODY_DOC = bodies.request_body(
    *ACCEPTED, description="Rows as JSON lines, CSV, Parquet or Arrow IPC (stream or file)"
)


def _categories(assessment: Assessment) -> list[str]:
    return sorted(k for k, v in assessment.rows_per_category.items() if v)


LISTED = 1000
"""How many bad rows a response lists (row, field, reason); the rest are counted."""


def _bad(records: list[BadRecord]) -> list[dict[str, Any]]:
    return [
        {"row": b.row, "field": b.field, "error": b.error}
        | ({"line": b.line} if b.line is not None else {})
        for b in records[:LISTED]
    ]


@router.post(
    "/v1/scan",
    summary="Classify rows: level, categories and rules of every field, record and the dataset",
    response_model=ScanResult,
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=BODY_DOC,
)
def scan(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("operator", "compliance", abroad="refuse"))],
    request: Request,
    subject: Annotated[
        Name | None, Query(description="Column naming the data subject, if not a VIN")
    ] = None,
    crs: Literal["wgs84", "gcj02"] = Query("wgs84", description="CRS of positions without crs"),
) -> dict[str, Any]:
    """What `onshore scan --json` says about a file, for the rows in the body. Rows that
    cannot be read are counted and listed (row, field, error), and never stop the scan."""
    state = state_of(request)
    media = bodies.media_type(request.headers.get("content-type"))
    with bodies.Spool() as spool, state.session(principal.actor, write=False) as home:
        upload = spool.upload(body, media, max_bytes=state.settings.max_body_bytes)
        kept = app.KeepBad(limit=100)
        assessment = app.scan(
            chunks_of(upload),
            home.pack,
            state.areas,
            quarantine=kept,
            subject=subject,
            crs=crs,
            label=bodies.BODY,
            home=home,
            purpose="classification of submitted rows (HTTP scan)",
        ).assessment
        bad = kept.records
    return {
        "level": assessment.level.label,
        "rows": assessment.rows,
        "rows_quarantined": assessment.rows_quarantined,
        "assessment": to_jsonable(assessment.to_dict()),
        "bad_records": _bad(bad),
        "bad_records_not_listed": max(0, len(bad) - LISTED),
    }


@router.post(
    "/v1/desensitize",
    summary="Desensitize rows with a profile of the pack; the output and its residual risk",
    response_model=DesensitizeResult,
    responses={
        200: {
            "content": {bodies.ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
            "description": "JSON (records and risk report), or with output=arrow an Arrow IPC "
            "stream with the risk report in the X-Onshore-Risk header",
        },
        **documented(400, 401, 403, 413, 415, 422, 503),
    },
    openapi_extra=BODY_DOC,
)
def desensitize(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("operator", "compliance", abroad="refuse"))],
    request: Request,
    profile: str = Query(description="A profile of the pack, e.g. export-default"),
    subject: Annotated[
        Name | None, Query(description="Column naming the data subject, if not a VIN")
    ] = None,
    output: Literal["json", "arrow"] = Query("json", description="Response format"),
) -> Any:
    """Apply the profile, re-classify the output and measure the risk left (unicity,
    k-anonymity). When the output breaks the profile's promise nothing is returned: 403 with
    the risk report, as `onshore desensitize` exits 4."""
    state = state_of(request)
    media = bodies.media_type(request.headers.get("content-type"))
    with bodies.Spool() as spool, state.session(principal.actor, write=False) as home:
        pack = home.pack
        if profile not in pack.profiles:
            raise BadInput(
                f"no profile {profile!r} (profiles: {', '.join(pack.profiles)})", field="profile"
            )
        chosen = pack.profile(profile)
        key = None
        if any(s.op == "pseudonymize" for s in chosen.steps):
            key = pseudonym_key(home.keystore)
        upload = spool.upload(body, media, max_bytes=state.settings.max_body_bytes)
        collected = app.Collect()
        result = app.desensitize(
            chunks_of(upload),
            chosen,
            pack,
            out=collected,
            quarantine=app.KeepBad(limit=0),
            key=key,
            areas=state.areas,
            subject=subject,
            label=bodies.BODY,
            home=home,
            purpose=f"desensitization of submitted rows (HTTP, profile {profile})",
        )
        report = result.report
        risk = report.to_dict()
    if not result.released:
        raise ServiceProblem(
            403,
            result.refusal("the response"),
            slug="policy-refusal",
            title="Refused by policy",
            risk=to_jsonable(risk),
        )
    table = collected.table()
    if output == "arrow":
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        header = dumps(risk, sort_keys=False, compact=True, ensure_ascii=True)
        return Response(
            sink.getvalue().to_pybytes(),
            media_type=bodies.ARROW_STREAM,
            headers={"X-Onshore-Risk": header},
        )
    if table.num_rows > 200_000:
        raise ServiceProblem(422, "more than 200,000 rows: ask for output=arrow", field="output")
    return {
        "profile": profile,
        "rows": table.num_rows,
        "columns": table.column_names,
        "risk": to_jsonable(risk),
        "records": to_jsonable(table.to_pylist()),
    }
