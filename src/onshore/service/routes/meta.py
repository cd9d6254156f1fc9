"""Health, the lake's datasets, and the annual report (built, and verified)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from onshore.ledger import Ledger
from onshore.service import bodies
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import DatasetOut, Health
from onshore.service.problems import documented
from onshore.service.routes.ingest import raw_body
from onshore.store import Lake

router = APIRouter(tags=["service"])
REPORT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
}


@router.get(
    "/v1/health",
    summary="Liveness: the service answers (with a key: a few details)",
    response_model=Health,
    response_model_exclude_none=True,
)
def health(request: Request) -> dict[str, Any]:
    """No key needed: without one (or with a key that is not valid) the answer is only that the
    service is up, and its version. With a valid API key of any role it adds the jurisdiction,
    the ledger's size and the body limit. It never waits for a request in progress: it takes
    no session on the data home (the ledger's size is read on a connection of its own)."""
    from onshore import __version__

    state = state_of(request)
    out: dict[str, Any] = {"status": "ok", "version": __version__}
    key = request.headers.get("x-api-key") or _bearer(request.headers.get("authorization"))
    if key and state.authenticate(key) is not None:
        with Ledger.open(
            state.settings.db, home=state.home.path, keystore=state.home.keystore, read_only=True
        ) as ledger:
            size = ledger.size()
        out["details"] = {
            "jurisdiction": state.home.pack.jurisdiction,
            "ledger_size": size,
            "max_body_bytes": state.settings.max_body_bytes,
        }
    return out


def _bearer(header: str | None) -> str | None:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@router.get(
    "/v1/datasets",
    summary="Datasets in the lake: files, rows, bytes, levels and stores (no rows)",
    response_model=list[DatasetOut],
    responses=documented(401, 403, 503),
)
def datasets(
    principal: Annotated[
        Principal, Depends(require("operator", "compliance", "auditor", abroad="open"))
    ],
    request: Request,
) -> list[dict[str, Any]]:
    state = state_of(request)
    with state.session(principal.actor) as home:
        files = Lake(home).files()
    out: dict[str, dict[str, Any]] = {}
    for f in files:
        d = out.setdefault(
            f.dataset,
            {
                "dataset": f.dataset,
                "files": 0,
                "rows": 0,
                "bytes": 0,
                "levels": set(),
                "stores": set(),
            },
        )
        d["files"] += 1
        d["rows"] += f.rows
        d["bytes"] += f.bytes
        d["levels"].add(f.level)
        d["stores"].add(f.store)
    return [
        d | {"levels": sorted(d["levels"]), "stores": sorted(d["stores"])} for d in out.values()
    ]


@router.get(
    "/v1/reports/{year}",
    summary="The annual automotive data security report of YEAR (html, md or pdf)",
    response_class=Response,
    responses={
        200: {
            "content": {
                t.split(";")[0]: {"schema": {"type": "string"}} for t in REPORT_TYPES.values()
            },
            "description": "The report, built from the ledger, the stores and config.yaml",
        },
        **documented(401, 403, 422, 503),
    },
)
def report(
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="open"))],
    request: Request,
    year: int = Path(ge=2000, le=2100),
    lang: Literal["zh", "en"] = Query("zh"),
    format: Literal["html", "md", "pdf"] = Query("html"),
) -> Response:
    """As `onshore report --year YEAR`: every table carries the query behind it and the
    ledger's signed tree head pins the state it was built from."""
    from onshore.app import report as use_case

    state = state_of(request)
    with state.session(principal.actor) as home:
        built = use_case.render(home, year, lang=lang, fmt=format, config=state.config)
    return Response(
        built.content,
        media_type=REPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{built.filename}"'},
    )


class ReportCheck(BaseModel):
    """What ``report verify`` found: the tables recomputed, and every mismatch."""

    ok: bool
    checked: list[str]
    problems: list[str]


@router.post(
    "/v1/reports/verify",
    summary="Recompute every figure of a report (the body: its HTML, Markdown or PDF)",
    response_model=ReportCheck,
    responses=documented(400, 401, 403, 413, 422, 503),
    openapi_extra=bodies.request_body(
        *REPORT_TYPES.values(), "application/octet-stream", description="A report file"
    ),
)
def verify_report(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="open"))],
    request: Request,
) -> dict[str, Any]:
    """As `onshore report verify FILE`: the signed tree head, every table against a fresh run
    of its query, and the document against its figures. A mismatch is an answer (``ok``
    false, the problems listed), not an error; a body that is no report is a 422."""
    from onshore.app import report as use_case

    state = state_of(request)
    with state.session(principal.actor) as home:
        result = use_case.verify(home, body, config=state.config)
    return {"ok": result.ok, "checked": list(result.checked), "problems": list(result.problems)}
