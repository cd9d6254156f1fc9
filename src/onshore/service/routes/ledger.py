"""The audit ledger: verify it, its latest signed head, inclusion and consistency proofs.

A proof of an entry that names a data subject (by pseudonym) is a read of personal data: a
``view`` entry, and for a client abroad the transfer gate first.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Path, Query, Request

from onshore.ledger import Activity
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.models import HeadOut, ProofOut, VerifyOut
from onshore.service.problems import ServiceProblem, documented

router = APIRouter(tags=["ledger"])
READERS = ("auditor", "compliance", "operator")


@router.get(
    "/v1/ledger/verify",
    summary="Check the whole ledger: every leaf, root and signed tree head",
    response_model=VerifyOut,
    responses=documented(401, 403, 409, 503),
)
def verify(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))], request: Request
) -> dict[str, Any]:
    """200 with the report when the ledger is intact; 409 (integrity failure, exit code 3 on
    the command line) with the report, naming the first bad entry, when it is not."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        report = home.ledger.verify()
    if not report.ok:
        raise ServiceProblem(
            409,
            report.summary(),
            slug="integrity-failure",
            title="Integrity failure",
            report=report.to_dict(),
        )
    return report.to_dict()


@router.get(
    "/v1/ledger/head",
    summary="The latest signed tree head (keep it to check a later verify against)",
    response_model=HeadOut,
    responses=documented(401, 403, 503),
)
def head(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))], request: Request
) -> dict[str, Any]:
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        latest = home.ledger.head()
    return {"signed_tree_head": latest.to_dict() if latest else None}


@router.get(
    "/v1/ledger/proofs/inclusion/{index}",
    summary="Proof that entry INDEX is in the log, with the entry and its signed tree head",
    response_model=ProofOut,
    responses=documented(401, 403, 409, 422, 503),
)
def inclusion(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="gate"))],
    request: Request,
    index: int = Path(ge=0, le=2**62),
    tree_size: int | None = Query(None, ge=1, le=2**62, description="Signed size (default latest)"),
) -> dict[str, Any]:
    """Check it with the public key alone: `python -m onshore.ledger.audit --proof FILE`."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        proof = home.ledger.inclusion_proof(index, tree_size)
        payload = proof.to_dict()
        subject = payload.get("entry", {}).get("subject")
        allowed = None
        if subject:
            table = pa.table({"vehicle_id_pseudonym": [subject]})
            allowed = gate_read(state, home, principal, table, f"ledger entry {index}")
            home.record(
                Activity.VIEW,
                purpose=principal.purpose or "ledger inclusion proof (HTTP)",
                dataset="ledger",
                counts={"entries": 1},
                decision="read",
                subject=subject,
                details={"index": index, "country": principal.country},
            )
    return payload | {"remote_access": allowed}


@router.get(
    "/v1/ledger/proofs/consistency",
    summary="Proof that the log at old_size is a prefix of the log at new_size",
    response_model=ProofOut,
    responses=documented(401, 403, 409, 422, 503),
)
def consistency(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))],
    request: Request,
    old_size: int = Query(ge=1, le=2**62),
    new_size: int | None = Query(None, ge=1, le=2**62, description="Default: latest"),
) -> dict[str, Any]:
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        return home.ledger.consistency_proof(old_size, new_size).to_dict()
