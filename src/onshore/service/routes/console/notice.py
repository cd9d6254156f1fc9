"""``/v1/console/notice``: the privacy notice (:func:`onshore.report.render_notice`), as
HTML or Markdown, in Chinese or English."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from onshore.service.auth import Principal, require, state_of
from onshore.service.routes.console.shared import ERRORS

router = APIRouter(tags=["console"])


@router.get(
    "/v1/console/notice",
    summary="The privacy notice (Provisions 2021 Art. 7), html or md",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
            "description": "The notice, from the pack and what the home holds",
        },
        **ERRORS,
    },
)
def notice(
    principal: Annotated[Principal, Depends(require("compliance", "auditor", abroad="open"))],
    request: Request,
    lang: Literal["zh", "en"] = Query("zh"),
    format: Literal["html", "md"] = Query("html"),
) -> Response:
    """As `onshore notice --lang LANG --format FORMAT`."""
    from onshore.report import render_notice

    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        text = render_notice(home, state.config, lang=lang, fmt=format)
    media = "text/html" if format == "html" else "text/markdown"
    return Response(
        text.encode("utf-8"),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="notice.{lang}.{format}"'},
    )
