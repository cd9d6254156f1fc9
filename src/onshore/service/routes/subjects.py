"""Consents, and data-subject rights: export everything about a vehicle or a person, or erase it.

A subject is a vehicle (``vin``) or a person (``subject``, with ``kind``: app and account data
key on a person). ``POST /v1/consents/import`` takes a CSV or JSON-lines file of consents
(:mod:`onshore.consent.bulk`): bad rows are listed with their line and field, the good ones
written in one transaction with one ledger entry.

Listing consents and exporting a vehicle's data are reads of personal data: each is a ``view``
entry on the ledger, and for a client abroad it first passes the transfer gate as remote access
(:mod:`onshore.service.abroad`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from onshore.app import subject as use_case
from onshore.classify import LABEL_COLUMNS
from onshore.consent import ConsentRegistry
from onshore.consent.model import VEHICLE, check_subject, resolve_subject
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import (
    ConsentImportOut,
    ConsentIn,
    ConsentList,
    ConsentOut,
    DeletionOut,
    WithdrawIn,
)
from onshore.service.problems import documented
from onshore.store import DataHome, Lake
from onshore.store.db import parse_iso
from onshore.text import Name

router = APIRouter(tags=["consents and subjects"])
VIN = r"^[A-HJ-NPR-Z0-9]{17}$"


def _time(text: str | None, field: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = parse_iso(text if "T" in text else text + "T00:00:00Z")
    except ValueError:
        raise BadInput(f"not an ISO 8601 time: {text!r}", field=field) from None
    return moment


@router.get(
    "/v1/consents",
    summary="Consents with their status now (a read of personal data: on the ledger)",
    response_model=ConsentList,
    responses=documented(400, 401, 403, 422, 503),
)
def list_consents(
    principal: Annotated[
        Principal, Depends(require("compliance", "auditor", "operator", abroad="gate"))
    ],
    request: Request,
    vin: str | None = Query(None, pattern=VIN),
    purpose: Annotated[Name | None, Query(min_length=1)] = None,
    subject: Annotated[Name | None, Query(description="A person's id (or a VIN, kind vehicle)")] = (
        None
    ),
    kind: Annotated[Literal["vehicle", "person"] | None, Query()] = None,
) -> dict[str, Any]:
    who, who_kind = resolve_subject(vin, subject, kind, required=False)
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        now = home.now()
        items = [
            c.to_dict(now)
            for c in ConsentRegistry(home).list(subject=who, kind=who_kind, purpose=purpose)
        ]
        table = pa.Table.from_pylist([{k: v for k, v in c.items() if k != "actor"} for c in items])
        allowed = gate_read(state, home, principal, table, "consents")
        home.record(
            Activity.VIEW,
            purpose=principal.purpose or "consent registry read (HTTP)",
            dataset="consents",
            categories=sorted({c["category"] for c in items}),
            counts={"consents": len(items)},
            decision="read",
            subject=home.subject_ref(who) if who else None,
            details={
                "filter": {"subject": who_kind, "purpose": purpose},
                "country": principal.country,
                "abroad": principal.abroad,
            },
        )
    return {"consents": items, "remote_access": allowed}


@router.post(
    "/v1/consents",
    summary="Record a separate consent (an expiry is mandatory)",
    status_code=201,
    response_model=ConsentOut,
    responses=documented(400, 401, 403, 413, 422, 503),
)
def grant_consent(
    principal: Annotated[Principal, Depends(require("compliance", "operator", abroad="refuse"))],
    body: ConsentIn,
    request: Request,
) -> dict[str, Any]:
    """A permanent consent is refused (422); a biometric category outside driving safety is
    refused by policy (403)."""
    if body.expires_at is not None and body.days is not None:
        raise BadInput("give expires_at or days, not both", field="expires_at")
    who, who_kind = resolve_subject(body.vin, body.subject, body.kind, required=True)
    assert who is not None and who_kind is not None
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        granted = _time(body.granted_at, "granted_at") or home.now()
        expires = _time(body.expires_at, "expires_at")
        if body.days is not None:
            expires = granted + dt.timedelta(days=body.days)
        record = ConsentRegistry(home).grant(
            who,
            body.category,
            body.purpose,
            expires_at=expires,
            kind=who_kind,
            person=body.person,
            channel=body.channel,
            necessity=body.necessity,
            granted_at=granted,
        )
        return record.to_dict(home.now())


@router.post(
    "/v1/consents/withdraw",
    summary="Withdraw a consent by id, or the consents of a vehicle or person",
    response_model=list[ConsentOut],
    responses=documented(400, 401, 403, 413, 422, 503),
)
def withdraw_consent(
    principal: Annotated[Principal, Depends(require("compliance", "operator", abroad="refuse"))],
    body: WithdrawIn,
    request: Request,
) -> list[dict[str, Any]]:
    """Effective at once for every later ingest."""
    who, who_kind = resolve_subject(body.vin, body.subject, body.kind, required=False)
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        done = ConsentRegistry(home).withdraw(
            body.id, subject=who, kind=who_kind, category=body.category, purpose=body.purpose
        )
        now = home.now()
        return [c.to_dict(now) for c in done]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


_IMPORT_TYPES = ("text/csv", "application/x-ndjson")


@router.post(
    "/v1/consents/import",
    summary="Import many consents from a CSV or JSON-lines file (one transaction)",
    response_model=ConsentImportOut,
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV with a header line, or JSON lines: subject (or vin), kind, "
            "category or categories, purpose or purposes, granted_at, expires_at or days, "
            "withdrawn_at, person, channel, necessity (docs/data-home.md)",
            "content": {
                m: {"schema": {"type": "string", "format": "binary"}} for m in _IMPORT_TYPES
            },
        }
    },
)
def import_consents(
    body: Annotated[bytes, Depends(_raw_body)],
    principal: Annotated[Principal, Depends(require("compliance", "operator", abroad="refuse"))],
    request: Request,
) -> dict[str, Any]:
    """As `onshore consent import`: each row checked as a grant is; a bad row is listed with
    its line and field and left out, the good rows are written in one transaction with one
    ``consent_change`` ledger entry (counts and the body's SHA-256). Consents already recorded
    are skipped. 200 even when rows were rejected: ``rows_rejected`` says how many."""
    from onshore.consent.bulk import import_consents as run_import
    from onshore.service.bodies import BODY, CSV, JSONL, media_type, unsupported

    media = media_type(request.headers.get("content-type"))
    if media not in (CSV, JSONL):
        raise unsupported(media, (CSV, JSONL))
    if not body:
        raise BadInput("the body is empty", file=BODY)
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        result = run_import(home, body, name=BODY, fmt="csv" if media == CSV else "jsonl")
    return result.to_dict()


def _vehicle_rows(home: DataHome, vin: str) -> pa.Table:
    """Every lake row of ``vin`` in one table (schemas unified): what an export would carry."""
    lake = Lake(home)
    tables = []
    for store, lake_file in lake.all_files():
        found = lake.read_vin(store, lake_file, vin)
        if found is not None and found.num_rows:
            keep = [c for c in found.column_names if c not in LABEL_COLUMNS]
            tables.append(found.select(keep).replace_schema_metadata(None))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")


@router.post(
    "/v1/subjects/{vin}/export",
    summary="Data-subject access: a zip of everything held about a vehicle or a person",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The export (lake rows, consents, requests, ledger entries)",
        },
        **documented(400, 401, 403, 422, 503),
    },
)
def export(
    principal: Annotated[Principal, Depends(require("compliance", abroad="gate"))],
    request: Request,
    vin: str = Path(description="The vehicle's VIN, or a person's id with kind=person"),
    kind: Literal["vehicle", "person"] = Query(VEHICLE, description="What the path names"),
) -> Response:
    """As `onshore subject export`: the request is recorded (subject_requests, and a ``view``
    ledger entry). For a client abroad the vehicle's rows pass the transfer gate first."""
    check_subject(vin, kind)
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        if principal.abroad:
            gate_read(
                state,
                home,
                principal,
                _vehicle_rows(home, vin),
                f"subject {vin}",
                label="subject export",
            )
        data, _summary = use_case.export_zip(home, vin, kind=kind)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{_zip_name(vin, kind)}"'},
    )


@router.delete(
    "/v1/subjects/{vin}",
    summary="Data-subject deletion: physically remove every row and record of a vehicle or a "
    "person",
    response_model=DeletionOut,
    responses=documented(400, 401, 403, 409, 422, 503),
)
def delete(
    principal: Annotated[Principal, Depends(require("compliance", abroad="refuse"))],
    request: Request,
    vin: str = Path(description="The vehicle's VIN, or a person's id with kind=person"),
    received: str | None = Query(None, description="When the request was received (ISO time)"),
    kind: Literal["vehicle", "person"] = Query(VEHICLE, description="What the path names"),
) -> dict[str, Any]:
    """As `onshore subject delete`: due date in Chinese working days, atomic rewrites, the
    whole lake scanned again before the request completes, a ``deletion`` ledger entry."""
    check_subject(vin, kind)
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        result = use_case.delete(home, vin, received=received, kind=kind)
    return result.to_dict()


def _zip_name(subject: str, kind: str) -> str:
    """The export's file name: the VIN (checked), never a person's id (free text)."""
    return f"{subject}.zip" if kind == VEHICLE else "person-export.zip"
