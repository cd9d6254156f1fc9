"""``/v1/console/approvals``: the approvals registry with expiry, renewal window and status,
as ``onshore transfer approvals list`` shows it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import documented
from onshore.service.routes.console.shared import READERS, legal_ref
from onshore.transfer import transfer_policy

router = APIRouter(tags=["console"])


@router.get(
    "/v1/console/approvals",
    summary="Approvals on record with expiry, renewal window and status",
    responses=documented(401, 403, 503),
)
def approvals(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))], request: Request
) -> dict[str, Any]:
    """As `onshore transfer approvals list --json`: ``renew_from`` is the start of the pack's
    renewal window (working days before expiry); ``status`` is valid, renew now or expired."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        gate = state.gate()
        today = gate.today()
        policy = transfer_policy(home.pack)
        return {
            "today": today.isoformat(),
            "renewal_window_working_days": policy.approvals.renewal_window_working_days,
            "ref": legal_ref(home, policy.approvals.ref),
            "approvals": [s.to_dict() for s in gate.approval_statuses(today)],
        }
