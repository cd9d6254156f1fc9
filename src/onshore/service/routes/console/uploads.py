"""``/v1/console/transfers/{assess,run}/upload``: the transfer gate on an uploaded file,
staged under the outbox for the gate and removed afterwards."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from onshore import app
from onshore.service import bodies
from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import ServiceProblem, documented
from onshore.service.routes.ingest import raw_body
from onshore.service.state import ServiceState
from onshore.text import Name, Note
from onshore.transfer.execute import Outcome
from onshore.transfer.models import TransferRequest
from onshore.transfer.policy import Exemption, OutboundBasis

router = APIRouter(tags=["console"])
UPLOAD_TYPES = (bodies.PARQUET, bodies.CSV, bodies.JSONL)


def _upload_decide(
    state: ServiceState,
    principal: Principal,
    body: bytes,
    media: str,
    request: TransferRequest,
    name: str,
    run: bool,
) -> tuple[Outcome, dict[str, Any]]:
    fmt = bodies.FILE_TYPES.get(media)
    if fmt is None:
        raise bodies.unsupported(media, UPLOAD_TYPES)
    if not body:
        raise ServiceProblem(400, "the body is empty", file=bodies.BODY)
    with state.session(principal.actor, write=run) as home:
        folder = home.path / "outbox" / ".uploads" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        staged = folder / f"upload.{fmt}"
        staged.write_bytes(body)
        try:
            label = f"upload:{name}"  # on the ledger, in the log and the manifest
            outcome = app.transfer_staged(
                state.gate(), request, staged, name=label, shown=f"upload {name}", run=run
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return outcome, outcome.to_dict() | {"dataset": f"upload:{name}", "store": None}


def _upload_request(
    recipient: str,
    country: str,
    purpose: str,
    exemption: str | None,
    profile: str | None,
    pipl: Pipl,
) -> TransferRequest:
    raw: dict[str, Any] = {
        "dataset": "upload",
        "recipient": {"name": recipient, "country": country},
        "purpose": purpose,
        "outbound_basis": pipl.outbound_basis,
        "outbound_basis_note": pipl.outbound_basis_note or "",
    }
    if pipl.impact_assessment:
        raw["impact_assessment"] = pipl.impact_assessment
    if exemption:
        raw["exemption"] = exemption
    if profile:
        raw["profile"] = profile
    return TransferRequest.from_mapping(raw)


@dataclass(frozen=True)
class Pipl:
    """What PIPL asks of every export of personal information (Arts. 39 and 55)."""

    impact_assessment: Annotated[
        Name | None,
        Query(description="Reference of the personal-information impact assessment (Art. 55)"),
    ] = None
    outbound_basis: Annotated[
        OutboundBasis,
        Query(description="Basis of the export (Art. 39): separate_consent, contract …"),
    ] = "separate_consent"
    outbound_basis_note: Annotated[
        Note | None,
        Query(description="Where a basis other than consent is documented (contract clause …)"),
    ] = None


UPLOAD_DOC = bodies.request_body(
    *UPLOAD_TYPES, description="The dataset to transfer: Parquet, CSV or JSON lines"
)


def _upload(
    request: Request,
    principal: Principal,
    body: bytes,
    wanted: TransferRequest,
    name: str,
    run: bool,
) -> dict[str, Any]:
    media = bodies.media_type(request.headers.get("content-type"))
    outcome, out = _upload_decide(state_of(request), principal, body, media, wanted, name, run)
    if run and not outcome.decision.allowed:
        decision = outcome.decision
        raise ServiceProblem(
            403,
            f"transfer refused ({decision.mechanism}): " + "; ".join(decision.missing),
            slug="policy-refusal",
            title="Refused by policy",
            mechanism=decision.mechanism,
            missing=list(decision.missing),
            reasons=[r.to_dict() for r in decision.reasons],
            decision=out,
        )
    return out


Recipient = Annotated[Name, Query(min_length=1, max_length=200)]
Country = Annotated[str, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
Purpose = Annotated[Name, Query(min_length=1, max_length=200)]
FileName = Annotated[Name, Query(max_length=200, description="The file's name, for the record")]


@router.post(
    "/v1/console/transfers/assess/upload",
    summary="Decide a cross-border transfer of an uploaded file without moving anything",
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=UPLOAD_DOC,
)
def assess_upload(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("operator", "compliance", abroad="refuse"))],
    request: Request,
    recipient: Recipient,
    country: Country,
    purpose: Purpose,
    exemption: Annotated[Exemption | None, Query()] = None,
    profile: str | None = Query(None, min_length=1),
    name: FileName = "upload",
    pipl: Annotated[Pipl, Depends()] = Pipl(),
) -> dict[str, Any]:
    """The gate of ``/v1/transfers/assess`` on the body instead of a lake dataset."""
    wanted = _upload_request(recipient, country, purpose, exemption, profile, pipl)
    return _upload(request, principal, body, wanted, name, run=False)


@router.post(
    "/v1/console/transfers/run/upload",
    summary="Run a cross-border transfer of an uploaded file: the package, or 403 with reasons",
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=UPLOAD_DOC,
)
def run_upload(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("compliance", abroad="refuse"))],
    request: Request,
    recipient: Recipient,
    country: Country,
    purpose: Purpose,
    exemption: Annotated[Exemption | None, Query()] = None,
    profile: str | None = Query(None, min_length=1),
    name: FileName = "upload",
    pipl: Annotated[Pipl, Depends()] = Pipl(),
) -> dict[str, Any]:
    """The gate of ``/v1/transfers/run`` on the body: written to the outbox only if allowed."""
    wanted = _upload_request(recipient, country, purpose, exemption, profile, pipl)
    return _upload(request, principal, body, wanted, name, run=True)
