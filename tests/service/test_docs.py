"""/docs and /redoc come from the package: no CDN, nothing loaded from elsewhere."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("fastapi_offline")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_the_services_own_files(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith("/docs/static/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert "/openapi.json" in response.text


def test_the_schema_stays_at_openapi_json(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Onshore"
    assert not [p for p in schema["paths"] if p.startswith(("/docs", "/redoc"))]
