"""Errors as RFC 9457 problem details, and the one place Onshore's error tree meets HTTP.

Every error response is ``application/problem+json`` with ``type`` (a URN naming the problem),
``title``, ``status`` and ``detail``; bad input adds the ``file``, ``record`` and ``field`` it
carries, a refusal adds the gate's ``reasons`` (and ``decision``)::

    Onshore error                      status  type
    BadInput (PackError, AreaError)     422    urn:onshore:problem:bad-input
    PolicyRefusal                       403    urn:onshore:problem:policy-refusal
    IntegrityError                      409    urn:onshore:problem:integrity-failure
    StorageError                        503    urn:onshore:problem:storage-unavailable
    any other OnshoreError              500    urn:onshore:problem:internal

and from the service itself: 400 ``malformed-request`` (a body that does not parse), 401
``unauthenticated``, 403 ``forbidden`` (the key's role may not call the endpoint), 403
``remote-access-refused`` (the transfer gate refused a read from abroad), 404 ``not-found``,
405 ``method-not-allowed``, 413 ``payload-too-large``, 415 ``unsupported-media-type``, 422
``bad-input`` for a request that fails validation.

An integrity failure is 409 Conflict: the request was fine, the ledger's state is not (the
same failure is exit code 3 on the command line); it is never a 500.

A 500 says nothing of what failed: its detail is one generic sentence and an ``incident`` id,
and the same id is logged with the traceback (``onshore.service``), so an operator can find it
while a client learns nothing of the code.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from onshore.errors import BadInput, IntegrityError, OnshoreError, PolicyRefusal, StorageError

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 5
"""What a 503 (storage unavailable) asks the client to wait before it tries again."""
URN = "urn:onshore:problem:"
log = logging.getLogger("onshore.service")

# (status, slug, title) of each branch of the error tree, most specific first.
ERROR_MAP: tuple[tuple[type[OnshoreError], int, str, str], ...] = (
    (BadInput, 422, "bad-input", "Bad input"),
    (PolicyRefusal, 403, "policy-refusal", "Refused by policy"),
    (IntegrityError, 409, "integrity-failure", "Integrity failure"),
    (StorageError, 503, "storage-unavailable", "Storage unavailable"),
    (OnshoreError, 500, "internal", "Internal error"),
)
_HTTP_SLUGS = {
    400: ("malformed-request", "Malformed request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("bad-input", "Bad input"),
}


class Problem(BaseModel):
    """An RFC 9457 problem detail (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URN naming the problem type, e.g. urn:onshore:problem:bad-input")
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(description="The HTTP status code")
    detail: str | None = Field(default=None, description="What went wrong this time")
    instance: str | None = Field(default=None, description="The request path")
    file: str | None = Field(default=None, description="Input file (or body) at fault")
    record: int | None = Field(default=None, description="0-based record (row, line) at fault")
    field: str | None = Field(default=None, description="Field (column, parameter) at fault")


class ServiceProblem(Exception):
    """A problem the service itself raises (authentication, roles, bodies, the abroad rule)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        default_slug, default_title = _HTTP_SLUGS.get(status, ("error", "Error"))
        self.status = status
        self.detail = detail
        self.slug = slug or default_slug
        self.title = title or default_title
        self.headers = dict(headers or {})
        self.extra = extra


_CLASS_NAME = re.compile(r"\b[A-Za-z_]\w*(?:Exception|Error|Invalid)\b:?\s*")
_SPOOLED = re.compile(r"[^\s'\"]*onshore-body-[^\s'\"]*")


def public_detail(detail: str) -> str:
    """A detail as a client may read it: the text of libraries that parsed the body stays (it
    says what is wrong with it), their exception class names and the server's temporary paths
    do not, and it is one line of at most 500 characters."""
    text = _SPOOLED.sub("request body", detail)
    text = _CLASS_NAME.sub("", text)
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:497] + "..."


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    request: Request | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": URN + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = public_detail(detail)
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def for_error(exc: OnshoreError) -> tuple[int, str, str]:
    """The (status, slug, title) of an Onshore error: the single mapping."""
    for cls, status, slug, title in ERROR_MAP:
        if isinstance(exc, cls):
            return status, slug, title
    return 500, "internal", "Internal error"  # pragma: no cover - OnshoreError is last


def _onshore_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OnshoreError)
    status, slug, title = for_error(exc)
    extra: dict[str, Any] = {}
    detail = str(exc)
    if isinstance(exc, BadInput):
        detail = exc.message
        extra = {"file": exc.file, "record": exc.record, "field": exc.field}
    if status == 500:
        return _internal(request, exc)
    headers: dict[str, str] = {}
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    if status == 503:  # storage unavailable: nothing was stored; the client may try again
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return problem_response(status, slug, title, detail, request, headers, **extra)


def _service_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceProblem)
    return problem_response(
        exc.status, exc.slug, exc.title, exc.detail, request, exc.headers, **exc.extra
    )


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = loc[0] if loc else None
    name = ".".join(loc[1:]) or None
    malformed = first.get("type") in ("json_invalid", "model_attributes_type") and where == "body"
    status = 400 if malformed else 422
    slug, title = _HTTP_SLUGS[status]
    detail = str(first.get("msg", "invalid request"))
    if name:
        detail = f"{where} {name}: {detail}"
    return problem_response(
        status,
        slug,
        title,
        detail,
        request,
        field=name,
        errors=[
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in errors[:20]
        ],
    )


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("error", "Error"))
    headers = dict(exc.headers or {})
    return problem_response(exc.status_code, slug, title, str(exc.detail), request, headers)


def _internal(request: Request, exc: BaseException) -> JSONResponse:
    """500: a generic sentence and an incident id; the id is logged with the traceback."""
    incident = secrets.token_hex(8)
    log.error(
        "incident %s: %s %s failed",
        incident,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return problem_response(
        500,
        "internal",
        "Internal error",
        f"the service failed on this request; the operator can find it as incident {incident}",
        request,
        incident=incident,
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _internal(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem detail."""
    app.add_exception_handler(OnshoreError, _onshore_error)
    app.add_exception_handler(ServiceProblem, _service_problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses and those of authentication."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({400, 401, 403, *statuses}):
        slug, title = _HTTP_SLUGS.get(status, ("storage-unavailable", "Storage unavailable"))
        if status == 409:
            slug, title = "integrity-failure", "Integrity failure"
        out[status] = {
            "model": Problem,
            "description": f"{title} (problem details, type {URN}{slug})",
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
