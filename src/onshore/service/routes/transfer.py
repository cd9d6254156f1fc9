"""Cross-border transfers: assess and run requests on lake datasets; the approvals registry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from onshore import app
from onshore.errors import BadInput
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import ApprovalIn, ApprovalOut, TransferIn, TransferOutcome
from onshore.service.problems import ServiceProblem, documented
from onshore.service.state import ServiceState
from onshore.transfer import Approval, approval_status
from onshore.transfer.execute import Outcome
from onshore.transfer.models import TransferRequest

router = APIRouter(tags=["transfer"])
ERRORS = documented(401, 403, 413, 422, 503)


def _decide(state: ServiceState, principal: Principal, body: TransferIn, run: bool) -> Outcome:
    raw = body.model_dump(exclude={"store"})
    request = TransferRequest.from_mapping(raw)
    with state.session(principal.actor, write=run):
        # a lake dataset (the service never reads a path a client names)
        return app.transfer(state.gate(), request, run=run, store=body.store, lake_only=True)


def _out(outcome: Outcome, body: TransferIn) -> dict[str, Any]:
    return outcome.to_dict() | {"dataset": body.dataset, "store": body.store}


@router.post(
    "/v1/transfers/assess",
    summary="Decide a cross-border transfer of a lake dataset without moving anything",
    response_model=TransferOutcome,
    responses=ERRORS,
)
def assess(
    principal: Annotated[Principal, Depends(require("operator", "compliance", abroad="refuse"))],
    body: TransferIn,
    request: Request,
) -> dict[str, Any]:
    """The dataset is (desensitized with ``profile`` and) classified for real, its individuals
    counted against this year's exports, and the mechanism, approvals and reasons decided. A
    refusal is a value here (``allowed: false``), as in `onshore transfer assess`."""
    return _out(_decide(state_of(request), principal, body, run=False), body)


@router.post(
    "/v1/transfers/run",
    summary="Run a cross-border transfer: the export package, or 403 with the reasons",
    response_model=TransferOutcome,
    responses=ERRORS,
)
def run(
    principal: Annotated[Principal, Depends(require("compliance", abroad="refuse"))],
    body: TransferIn,
    request: Request,
) -> dict[str, Any]:
    """Re-assess and, only if allowed, write the export package (data and SHA-256 manifest)
    to HOME/outbox, update the counters and record the export. A refusal is recorded on the
    ledger and answered 403 with the decision."""
    outcome = _decide(state_of(request), principal, body, run=True)
    if not outcome.decision.allowed:
        decision = outcome.decision
        raise ServiceProblem(
            403,
            f"transfer refused ({decision.mechanism}): " + "; ".join(decision.missing),
            slug="policy-refusal",
            title="Refused by policy",
            mechanism=decision.mechanism,
            missing=list(decision.missing),
            reasons=[r.to_dict() for r in decision.reasons],
            decision=_out(outcome, body),
        )
    return _out(outcome, body)


@router.get(
    "/v1/approvals",
    summary="Approvals, filings and certifications on record, with scope, expiry and status",
    response_model=list[ApprovalOut],
    responses=documented(401, 403, 503),
)
def list_approvals(
    principal: Annotated[
        Principal, Depends(require("compliance", "auditor", "operator", abroad="open"))
    ],
    request: Request,
) -> list[dict[str, Any]]:
    """As `onshore transfer approvals list --json`: the effective expiry, the start of the
    renewal window (``renew_from``, working days before expiry) and the status today."""
    state = state_of(request)
    with state.session(principal.actor, write=False):
        return [s.to_dict() for s in state.gate().approval_statuses()]


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"not a date (YYYY-MM-DD): {text!r}", field=field) from None


@router.post(
    "/v1/approvals",
    summary="Put an approval, filing or certification on record",
    status_code=201,
    response_model=ApprovalOut,
    responses=documented(401, 403, 413, 422, 503),
)
def add_approval(
    principal: Annotated[Principal, Depends(require("compliance", abroad="refuse"))],
    body: ApprovalIn,
    request: Request,
) -> dict[str, Any]:
    """Its scope (recipient, purpose, categories, most individuals per year) is what the
    gate checks a transfer against; the addition is recorded on the ledger."""
    state = state_of(request)
    with state.session(principal.actor, write=True) as home:
        unknown = [c for c in body.categories if c not in home.pack.categories]
        if unknown:
            raise BadInput(f"unknown categories: {', '.join(unknown)}", field="categories")
        issued = _date(body.issued, "issued")
        assert issued is not None
        approval = Approval(
            body.id,
            body.kind,
            issued,
            _date(body.expires, "expires"),
            body.recipient,
            body.purpose,
            tuple(body.categories),
            body.max_individuals,
        )
        gate = state.gate()
        gate.registry.add_approval(approval, reference=body.reference)  # and the ledger entry
        return approval_status(approval, home.pack, gate.today()).to_dict()
