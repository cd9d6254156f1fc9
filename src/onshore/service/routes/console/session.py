"""``/v1/console/session``: who the key is and which operations its role may call (the console
disables what it may not; the API refuses it anyway)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from onshore.model import Level
from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import documented
from onshore.transfer import transfer_policy

router = APIRouter(tags=["console"])


@router.get(
    "/v1/console/session",
    summary="Who this key is, and the operations its role may call",
    responses=documented(401, 403, 503),
)
def session(
    principal: Annotated[
        Principal, Depends(require("ingest", "operator", "compliance", "auditor", abroad="open"))
    ],
    request: Request,
) -> dict[str, Any]:
    """``allowed`` lists ``METHOD /path`` of every operation the role may call, from the
    same role declarations the API enforces; ``changes`` those of them that change state (the
    routes that refuse clients abroad: a read or a check by POST is not one), so a role with
    none is read-only."""
    from onshore.service.app import endpoint_rules

    role = principal.key.role
    rules = {f"{method} {path}": rule for (method, path), rule in endpoint_rules().items()}
    allowed = sorted(op for op, rule in rules.items() if role in rule.roles)
    changes = [op for op in allowed if rules[op].abroad == "refuse" and not op.startswith("GET ")]
    state = state_of(request)
    pack = state.home.pack
    policy = transfer_policy(pack)
    return {
        "name": principal.key.name,
        "role": role,
        "key": principal.key.id,
        "country": principal.country,
        "abroad": principal.abroad,
        "jurisdiction": state.home.pack.jurisdiction,
        "pack": {"name": pack.name, "version": pack.version},
        "allowed": allowed,
        "changes": changes,
        "exemptions": {k: v.applies_to for k, v in policy.exemptions.items()},
        "profiles": list(pack.profiles),
        "purposes": [p.key for p in pack.bases.purposes] if pack.bases else [],
        "levels": [level.label for level in sorted(Level)],
        "instruments": {
            i.id: {"title": i.title, "title_zh": i.title_zh, "number": i.number, "url": i.url}
            for i in pack.instruments.values()
        },
    }
