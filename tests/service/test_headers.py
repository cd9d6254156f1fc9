"""Security headers on every response: every route of the route table, errors, 413s, docs."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from service_support import JSONL
from starlette.routing import Mount, Route

from onshore.service import ServiceSettings, create_app
from onshore.service.app import endpoint_roles
from onshore.service.docs import DOCS_CSP
from onshore.service.headers import API_CSP, CONSOLE_CSP

COMMON = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def check(response, path: str) -> None:  # type: ignore[no-untyped-def]
    where = f"{response.request.method} {path} -> {response.status_code}"
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, where
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src" in csp, where
    assert "unsafe-eval" not in csp and "http" not in csp, where  # nothing from elsewhere
    assert "script-src 'self' 'unsafe-inline'" not in csp, where
    if path.startswith("/v1/"):
        assert response.headers.get("cache-control") == "no-store", where


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def _route_table(routes: list[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (newer FastAPI keeps them nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _route_table(nested.routes)
        else:
            yield route


def test_every_route_answers_with_the_headers(client: TestClient, app, keys) -> None:  # type: ignore[no-untyped-def]
    seen: set[tuple[str, str]] = set()
    for route in _route_table(app.routes):
        if isinstance(route, Mount):
            targets = [(route.path + "/", "GET"), (route.path + "/nothing-here.js", "GET")]
        elif isinstance(route, APIRoute | Route):
            targets = [(_concrete(route.path), m) for m in sorted(route.methods or {"GET"})]
        else:
            continue
        for path, method in targets:
            for headers in ({}, keys("auditor")):
                response = client.request(method, path, headers=headers, follow_redirects=False)
                check(response, path)
            seen.add((method, getattr(route, "path", path)))
    # the whole route table: every API endpoint, and the console, docs, openapi.json and /
    assert set(endpoint_roles()) <= seen
    assert {("GET", p) for p in ("/", "/docs", "/redoc", "/openapi.json")} <= seen
    assert {("GET", "/console"), ("GET", "/docs/static")} <= seen


def test_errors_413s_and_unknown_paths_have_them_too(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(home=tmp_path / "h", max_body_bytes=1000), environ={})
    with TestClient(app) as c:
        big = c.post("/v1/ingest/t", content=b"x" * 5000, headers=JSONL)
        assert big.status_code == 413
        check(big, "/v1/ingest/t")
        assert big.headers["content-security-policy"] == API_CSP
        for path in ("/v1/no-such", "/nowhere", "/v1/health"):
            check(c.get(path), path)


def test_policies_by_area(client: TestClient) -> None:
    console = client.get("/console/")
    assert console.status_code == 200
    assert console.headers["content-security-policy"] == CONSOLE_CSP
    assert "cache-control" not in console.headers or console.headers["cache-control"] != ""
    # the console's scripts are files, never inline: the policy can forbid inline scripts
    assert "script-src 'self';" in CONSOLE_CSP
    assert "<script>" not in console.text and "onload=" not in console.text
    assert client.get("/v1/health").headers["content-security-policy"] == API_CSP


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_policy_is_for_the_docs_only(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == DOCS_CSP
    # the one inline script of /docs is allowed by its hash, not by 'unsafe-inline'
    for inline in re.findall(r"<script>(.*?)</script>", response.text, re.S):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    for other in ("/v1/health", "/console/", "/openapi.json", "/docs/static/swagger-ui.css"):
        assert client.get(other).headers["content-security-policy"] != DOCS_CSP, other
