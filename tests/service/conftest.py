"""The service against a real data home in tmp_path (embedded SQLite), through TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from service_support import AREAS, Keys

from onshore.service import ROLES, ServiceSettings, create_app


@pytest.fixture
def home_path(tmp_path: Path) -> Path:
    """A data home with a sensitive-area catalogue (HOME/areas.geojson, as the service reads)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "areas.geojson").write_text(json.dumps(AREAS))
    # Remote reads from abroad are exports: PIPL asks for an impact assessment and a basis
    (home / "config.yaml").write_text(
        "remote_access:\n  impact_assessment: PIA-TEST-1\n  outbound_basis: contract\n"
        "  outbound_basis_note: service agreement SA-7 clause 4 (remote support)\n"
    )
    return home


@pytest.fixture
def app(home_path: Path):  # type: ignore[no-untyped-def]
    return create_app(ServiceSettings(home=home_path), environ={})


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(app) -> Keys:  # type: ignore[no-untyped-def]
    store = app.state.onshore.keys
    made = {role: store.add(role, name=f"test {role}").key for role in ROLES}
    return Keys(made)
