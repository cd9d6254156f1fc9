"""The FastAPI application: routers, problem details, the body limit, the shared state."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from onshore.service import problems
from onshore.service.auth import AbroadRule
from onshore.service.console import mount_console
from onshore.service.docs import mount_docs
from onshore.service.headers import SecurityHeaders
from onshore.service.limits import BodyLimit
from onshore.service.routes import console, data, ingest, ledger, meta, risk, subjects, transfer
from onshore.service.state import ServiceSettings, ServiceState

DESCRIPTION = """\
Onshore over HTTP: ingest telemetry, classify and desensitize rows, decide and run
cross-border transfers, keep consents and data-subject rights, and prove the audit ledger.

**Authentication**: an API key (`onshore serve keys add --role ROLE --name WHO`) as
`Authorization: Bearer KEY` or `X-API-Key: KEY`. Roles: `ingest` (send telemetry),
`operator` (run the pipeline), `compliance` (transfers, approvals, subject rights),
`auditor` (read only: ledger, approvals, consents, reports).

**Clients abroad**: a key issued with a country other than CN, or a request with
`X-Onshore-Client-Country: DE` (any non-CN code), is remote access from abroad. Reads of
personal or important data then pass the transfer gate (access mode `remote_access`) and are
refused with 403 and the gate's reasons unless it allows them. `X-Onshore-Purpose` names the
purpose approvals are checked against.

**Errors** are RFC 9457 problem details (`application/problem+json`): bad input 422 (with the
file, record and field), malformed body 400, refused by policy 403, integrity failure 409,
storage unavailable 503, body over the limit 413.
"""

TAGS = [
    {"name": "ingest", "description": "Telemetry into the lake, through the one pipeline"},
    {"name": "classify", "description": "Classify and desensitize submitted rows"},
    {"name": "transfer", "description": "The cross-border transfer gate and approvals"},
    {"name": "consents and subjects", "description": "Consents and data-subject rights"},
    {"name": "ledger", "description": "The tamper-evident audit ledger"},
    {"name": "service", "description": "Health, datasets and the annual report"},
    {"name": "console", "description": "What the compliance console (/console/) reads"},
]


def create_app(
    settings: ServiceSettings | None = None, *, environ: dict[str, str] | None = None
) -> FastAPI:
    """The service for a data home, opened on creation and by every lifespan start (uvicorn,
    a ``with TestClient(app)``), closed at every lifespan end.

    >>> import tempfile
    >>> from pathlib import Path
    >>> app = create_app(ServiceSettings(home=Path(tempfile.mkdtemp())), environ={})
    >>> sorted(app.openapi()["paths"])[:2]
    ['/v1/approvals', '/v1/consents']
    >>> app.state.onshore.close()
    """
    settings = settings or ServiceSettings()
    from onshore import __version__
    from onshore.logs import install_vin_masking

    install_vin_masking()  # no raw VIN in the access log (subject paths) nor any other log

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.onshore.open()
        try:
            yield
        finally:
            app.state.onshore.close()

    app = FastAPI(
        title="Onshore",
        version=__version__,
        summary="Keep connected-vehicle data lawful under China's automotive data rules",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served from the package: onshore.service.docs
        redoc_url=None,
    )
    app.state.onshore = ServiceState(settings, environ=environ)
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: on 413s and errors too
    _document_roles(app)
    mount_console(app)
    mount_docs(app)
    return app


SETTINGS_ENV = "ONSHORE_SERVICE_SETTINGS"
"""The environment variable through which ``onshore serve --workers N`` hands its settings
(JSON) to the worker processes uvicorn spawns; each builds its app with :func:`worker_app`."""


def settings_to_env(settings: ServiceSettings) -> str:
    """``settings`` as the JSON :func:`worker_app` reads (the worker name left per process).

    >>> json.loads(settings_to_env(ServiceSettings(home=Path("h"), readers=2)))["readers"]
    2
    """
    fields = dataclasses.asdict(dataclasses.replace(settings, worker=None))
    fields["home"] = str(settings.home) if settings.home is not None else None
    return json.dumps(fields)


def worker_app() -> FastAPI:
    """The app of one of several service processes (a uvicorn factory), with its own state,
    from the settings in ``$ONSHORE_SERVICE_SETTINGS``."""
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise RuntimeError(f"{SETTINGS_ENV} is not set (start it with onshore serve --workers)")
    fields = json.loads(text)
    if fields.get("home") is not None:
        fields["home"] = Path(fields["home"])
    return create_app(ServiceSettings(**fields))


ROUTERS = (ingest, data, transfer, subjects, ledger, meta, risk, console)
ABROAD_DOC: dict[str, str] = {
    "refuse": " Clients abroad: refused (403 abroad-refused).",
    "gate": " Clients abroad: the personal data in the answer passes the transfer gate first.",
    "open": " Clients abroad: allowed (nothing personal in the answer).",
}


@dataclass(frozen=True)
class EndpointRule:
    """Who may call an endpoint: its roles (empty: no key needed) and its rule for clients
    abroad (``refuse``, ``gate`` or ``open``; ``None`` where no key is needed)."""

    roles: tuple[str, ...]
    abroad: AbroadRule | None


def endpoint_rules() -> dict[tuple[str, str], EndpointRule]:
    """``(METHOD, path)`` → its :class:`EndpointRule`, from the route table."""
    out: dict[tuple[str, str], EndpointRule] = {}
    for module in ROUTERS:
        for route in module.router.routes:
            if not isinstance(route, APIRoute):
                continue
            rule = EndpointRule((), None)
            for dependency in route.dependant.dependencies:
                roles = getattr(dependency.call, "roles", None)
                if roles is not None:
                    rule = EndpointRule(roles, getattr(dependency.call, "abroad", None))
            for method in route.methods or ():
                out[(method, route.path)] = rule
    return out


def endpoint_roles() -> dict[tuple[str, str], tuple[str, ...]]:
    """``(METHOD, path)`` → the roles that may call it (empty: no key needed)."""
    return {k: rule.roles for k, rule in endpoint_rules().items()}


def _document_roles(app: FastAPI) -> None:
    """Each operation of the OpenAPI schema says which roles may call it (x-onshore-roles)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for (method, path), rule in endpoint_rules().items():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            operation["x-onshore-roles"] = list(rule.roles)
            operation["x-onshore-abroad"] = rule.abroad
            who = ", ".join(rule.roles) if rule.roles else "anyone (no key)"
            abroad = ABROAD_DOC[rule.abroad] if rule.abroad else ""
            operation["description"] = (
                (operation.get("description") or "") + f"\n\nRoles: {who}." + abroad
            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
