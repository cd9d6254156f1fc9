"""The risk assessment of important-data processing (Provisions 2021 Art. 10): generate and
record one, list those on the ledger."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import documented

router = APIRouter(tags=["service"])
DOCUMENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
}


@router.post(
    "/v1/reports/{year}/risk-assessment",
    summary="Generate, record and return the risk assessment of YEAR's important-data processing",
    response_class=Response,
    responses={
        200: {
            "content": {
                t.split(";")[0]: {"schema": {"type": "string"}} for t in DOCUMENT_TYPES.values()
            },
            "description": "The assessment document; X-Onshore-Assessment-Id and "
            "X-Onshore-Assessment-Digest name what the ledger recorded",
        },
        **documented(401, 403, 422, 503),
    },
)
def risk_assessment(
    principal: Annotated[Principal, Depends(require("compliance", abroad="refuse"))],
    request: Request,
    year: int = Path(ge=2000, le=2100),
    lang: Literal["zh", "en"] = Query("zh"),
    format: Literal["html", "md", "pdf"] = Query("html"),
) -> Response:
    """As `onshore report risk --year YEAR --lang LANG` (Provisions 2021 Art. 10): built from
    the annual report's own tables and recorded on the ledger (kind `risk_assessment`) with the
    SHA-256 of its data block; the annual report cites the latest one of its year."""
    from onshore.report.risk import make_assessment

    state = state_of(request)
    with state.session(principal.actor) as home:
        made = make_assessment(home, state.config, year, langs=(lang,), fmt=format)
    name = f"onshore-risk-assessment-{made.id}-{lang}.{format}"
    return Response(
        made.documents[0].content,
        media_type=DOCUMENT_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Onshore-Assessment-Id": made.id,
            "X-Onshore-Assessment-Digest": made.digest,
        },
    )


@router.get(
    "/v1/risk-assessments",
    summary="The risk assessments recorded on the ledger (of YEAR when given), oldest first",
    responses=documented(401, 403, 422, 503),
)
def risk_assessments(
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="open"))],
    request: Request,
    year: int | None = Query(None, ge=2000, le=2100),
) -> list[dict[str, Any]]:
    """As `onshore report risk list`: id, year, time, digest, open risks and the documents
    written, for each assessment on the ledger."""
    from onshore.report.risk import history

    state = state_of(request)
    with state.session(principal.actor) as home:
        return history(home, year)
