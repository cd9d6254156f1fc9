"""``POST /v1/ingest/{dataset}``: JSON lines, Arrow IPC or GB/T 32960 frames into the lake."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from onshore.consent.model import check_purpose
from onshore.ingest import BatchOutcome, decode_gbt32960, decode_json
from onshore.service import bodies
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import IngestResult
from onshore.service.problems import ServiceProblem, documented
from onshore.service.tables import ingest_table
from onshore.text import Name

router = APIRouter(tags=["ingest"])
DATASET = r"^[a-z][a-z0-9_-]{0,63}$"
ACCEPTED = (bodies.JSONL, bodies.ARROW_STREAM, bodies.ARROW_FILE, bodies.FRAMES)


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _lines(body: bytes) -> tuple[list[bytes], list[int]]:
    """Non-blank lines of a JSON-lines body and their 0-based line numbers."""
    payloads, numbers = [], []
    for number, line in enumerate(body.split(b"\n")):
        if line.strip():
            payloads.append(line)
            numbers.append(number)
    return payloads, numbers


LISTED = 1000
"""How many rejected records a response lists; the rest are counted."""


def _rejections(fmt: str, payloads: list[bytes], numbers: list[int]) -> dict[str, Any]:
    """Every rejected record and why: each line of JSON lines, each frame of a GB/T 32960 body
    (decoded again only when some were rejected: the rare path). The first ``LISTED`` are
    listed, the rest counted."""
    decoded = (decode_json if fmt == "json" else decode_gbt32960)(payloads)
    listed = [
        {"record": numbers[r.index], "reason": r.reason, "field": r.field, "offset": r.offset}
        | ({"frame": r.frame} if r.frame is not None else {})
        for r in decoded.errors[:LISTED]
    ]
    total = len(decoded.errors)
    return {
        "rejections": listed,
        "rejected_records": total,
        "rejections_not_listed": total - len(listed),
    }


@router.post(
    "/v1/ingest/{dataset}",
    summary="Ingest telemetry (JSON lines, Arrow IPC, GB/T 32960 frames) into a dataset",
    response_model=IngestResult,
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=bodies.request_body(
        *ACCEPTED,
        description="JSON lines (one message per line, each with vin and ts), an Arrow IPC "
        "stream or file of canonical rows, or GB/T 32960.3 frames back to back",
    ),
)
def ingest(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("ingest", "operator", abroad="refuse"))],
    request: Request,
    dataset: str = Path(pattern=DATASET, description="Lake dataset name"),
    purpose: Annotated[Name | None, Query(description="Purpose of collection (bases.yaml)")] = None,
    store: str = Query("local", pattern=DATASET, description="Store to write to"),
) -> dict[str, Any]:
    """Run the body through the consent gate, the classifier and the residency check into the
    lake, idempotently: a row whose (VIN, ts, kind) was stored before, by this service or the
    MQTT worker, is counted as a duplicate and not stored again. Undecodable messages are
    quarantined with the reason; every rejected record (each line, each frame of a
    GB/T 32960 body) is listed in ``rejections`` with its field and reason, the first 1000 of
    them, and ``rejections_not_listed`` counts the rest; the rest is stored. Writing
    personal or important data to a store outside its origin jurisdiction is refused (403).
    """
    state = state_of(request)
    media = bodies.media_type(request.headers.get("content-type"))
    if media not in ACCEPTED:
        raise bodies.unsupported(media, ACCEPTED)
    if not body:
        raise ServiceProblem(400, "the body is empty", file=bodies.BODY)
    purpose = purpose or state.default_purpose
    with state.session(principal.actor, write=True) as home:
        check_purpose(home.pack, purpose)
        home.store(store)
        ingestor = state.ingestor(purpose, store)
        rejections: dict[str, Any] = {}
        if media in bodies.ARROW_TYPES:
            table = bodies.read_arrow(body, media, max_bytes=state.settings.max_body_bytes)
            outcome = ingest_table(ingestor, dataset, table)
        else:
            fmt = "json" if media == bodies.JSONL else "gbt32960"
            payloads, numbers = _lines(body) if fmt == "json" else ([body], [0])
            outcome = ingestor.ingest(dataset, fmt, payloads, [bodies.BODY] * len(payloads))
            if outcome.refused is not None:
                raise ServiceProblem(
                    403,
                    outcome.refused,
                    slug="policy-refusal",
                    title="Refused by policy",
                    outcome=outcome.to_dict(),
                )
            if outcome.rejected:
                rejections = _rejections(fmt, payloads, numbers)
        where = ingestor.quarantine.path(dataset)
        return _result(outcome, rejections, where.relative_to(home.path).as_posix())


def _result(outcome: BatchOutcome, rejections: dict[str, Any], quarantine: str) -> dict[str, Any]:
    none = {"rejections": [], "rejected_records": 0, "rejections_not_listed": 0}
    return outcome.to_dict() | none | rejections | {"quarantine": quarantine}
