"""Who is calling: the API key, its role, and whether the client is abroad.

A request carries its key as ``Authorization: Bearer onshore_…`` or ``X-API-Key: onshore_…``.
Each endpoint names the roles that may call it (:func:`require`); the ``auditor`` role only
ever reads. A client is *abroad* when its key was issued with a country other than the pack's
jurisdiction, or when it declares one in ``X-Onshore-Client-Country`` (ISO 3166 alpha-2):
its reads of personal or important data are remote access from abroad and go through the
transfer gate (:mod:`onshore.service.abroad`). ``X-Onshore-Purpose`` states the purpose the
gate checks approvals against.

Every endpoint also says, in :func:`require`, what a client abroad may do there
(:data:`AbroadRule`): ``refuse`` (every state change — approvals, consents, deletions, keys,
transfers, ingest — and every use of the home's keys, such as scan and desensitize), ``gate``
(the endpoint returns personal data and passes it through the transfer gate first) or ``open``
(nothing personal in the answer). A client abroad can therefore never change state: the check is
here, once, before any endpoint code runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from onshore.errors import BadInput
from onshore.service.apikeys import ApiKey, Role, check_country
from onshore.service.problems import ServiceProblem
from onshore.service.state import ServiceState
from onshore.text import check_text

AbroadRule = Literal["refuse", "gate", "open"]
"""What a client abroad may do at an endpoint (see the module's docstring)."""
ABROAD_RULES: tuple[AbroadRule, ...] = ("refuse", "gate", "open")
COUNTRY_HEADER = "X-Onshore-Client-Country"
PURPOSE_HEADER = "X-Onshore-Purpose"

_bearer = HTTPBearer(auto_error=False, description="An Onshore API key as a bearer token.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An Onshore API key.")


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    key: ApiKey
    country: str | None
    abroad: bool
    purpose: str | None

    @property
    def actor(self) -> str:
        """How the ledger names the caller."""
        return f"api:{self.key.name} ({self.key.role}, key {self.key.id})"


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.onshore
    return state


def _principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
    declared: Annotated[
        str | None,
        Header(
            alias=COUNTRY_HEADER,
            description="Where the client is (ISO 3166 alpha-2); not CN = remote access from "
            "abroad: reads of personal or important data pass the transfer gate",
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        Header(alias=PURPOSE_HEADER, description="Purpose the transfer gate checks approvals for"),
    ] = None,
) -> Principal:
    key = header or (bearer.credentials if bearer is not None else None)
    challenge = {"WWW-Authenticate": 'Bearer realm="onshore"'}
    if not key:
        raise ServiceProblem(401, "an API key is required (X-API-Key or Bearer)", headers=challenge)
    state = state_of(request)
    record = state.authenticate(key)
    if record is None:
        why = state.key_refusal(key) or "unknown"
        detail = {
            "expired": "this API key has expired: ask for a new one (onshore serve keys rotate)",
            "revoked": "this API key was revoked",
        }.get(why, "unknown API key")
        raise ServiceProblem(401, detail, headers=challenge, reason=why)
    try:
        claimed = check_country(declared, field=COUNTRY_HEADER) if declared else None
        stated = check_text(purpose, field=PURPOSE_HEADER, empty=True) if purpose else ""
    except BadInput as exc:
        raise ServiceProblem(400, f"{exc.field}: {exc.message}", field=exc.field) from None
    home_country = state.home.pack.jurisdiction.upper()
    abroad = any(c is not None and c != home_country for c in (record.country, claimed))
    country = next(
        (c for c in (record.country, claimed) if c is not None and c != home_country),
        claimed or record.country or home_country,
    )
    return Principal(record, country, abroad, stated or None)


def require(*roles: Role, abroad: AbroadRule) -> Callable[..., Principal]:
    """A dependency that authenticates the caller, checks that its role is one of ``roles`` and
    applies ``abroad``, the endpoint's rule for clients abroad (required: an endpoint cannot
    forget to decide it). ``refuse`` answers a client abroad with 403 before the endpoint runs."""
    allowed = frozenset(roles)
    if abroad not in ABROAD_RULES:
        raise ValueError(f"abroad must be one of {ABROAD_RULES}, not {abroad!r}")

    def check(principal: Annotated[Principal, Depends(_principal)], request: Request) -> Principal:
        if principal.abroad and abroad == "refuse":
            raise ServiceProblem(
                403,
                f"a client abroad ({principal.country}) may not call {request.method} "
                f"{request.url.path}: state changes and the home's keys are only for clients in "
                f"{state_of(request).home.pack.jurisdiction.upper()}",
                slug="abroad-refused",
                title="Not from abroad",
                country=principal.country,
            )
        if principal.key.role not in allowed:
            raise ServiceProblem(
                403,
                f"role {principal.key.role!r} may not call this endpoint "
                f"(allowed: {', '.join(sorted(allowed))})",
                role=principal.key.role,
                allowed_roles=sorted(allowed),
            )
        return principal

    check.roles = tuple(sorted(allowed))  # type: ignore[attr-defined]
    check.abroad = abroad  # type: ignore[attr-defined]
    return check
