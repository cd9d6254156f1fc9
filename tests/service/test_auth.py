"""API keys (hashed, revocable) and roles: every endpoint checks its role; auditors only read."""

from __future__ import annotations

import sqlite3

import pytest
from service_support import JSONL, assert_problem, jsonl, message

from onshore.service import ROLES
from onshore.service.app import endpoint_roles, endpoint_rules


def test_no_key_is_401_with_a_challenge(client) -> None:
    r = client.get("/v1/ledger/head")
    body = assert_problem(r, 401, "unauthenticated")
    assert "API key" in body["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_unknown_and_revoked_keys_are_refused(app, client, keys) -> None:
    bad = keys.by_role["auditor"][:-4] + "AAAA"
    assert_problem(
        client.get("/v1/ledger/head", headers={"X-API-Key": bad}), 401, "unauthenticated"
    )
    assert client.get("/v1/ledger/head", headers=keys("auditor")).status_code == 200
    key_id = keys.by_role["auditor"].split("_")[1]
    app.state.onshore.keys.revoke(key_id)
    assert_problem(client.get("/v1/ledger/head", headers=keys("auditor")), 401, "unauthenticated")


def test_bearer_token_works_too(client, keys) -> None:
    token = keys.by_role["auditor"]
    r = client.get("/v1/ledger/head", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_keys_are_stored_hashed(app, keys, home_path) -> None:
    db = sqlite3.connect(home_path / "meta.db")
    rows = db.execute("SELECT id, secret_sha256 FROM service_api_keys").fetchall()
    db.close()
    assert len(rows) == len(ROLES)
    raw = (home_path / "meta.db").read_bytes()
    for key in keys.by_role.values():
        secret = key.rsplit("_", 1)[1]
        assert secret.encode() not in raw
    assert all(len(digest) == 64 for _id, digest in rows)


def test_every_endpoint_but_health_checks_a_role_and_auditors_only_read(app) -> None:
    routes = endpoint_roles()
    assert len(routes) >= 17
    schema = app.openapi()
    for (method, path), roles in routes.items():
        assert schema["paths"][path][method.lower()]["x-onshore-roles"] == list(roles)
        if path == "/v1/health":
            assert roles == ()
            continue
        assert roles, f"{method} {path} checks no role"
        assert set(roles) <= set(ROLES)
        if method != "GET" and endpoint_rules()[(method, path)].abroad == "refuse":
            # a route that changes state (tests/service/test_abroad_routes.py: every one refuses
            # clients abroad); an auditor's POSTs are checks that change nothing
            assert "auditor" not in roles, f"auditor may {method} {path}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_on_ingest(client, keys, role) -> None:
    r = client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys(role, **JSONL)
    )
    if role in ("ingest", "operator"):
        assert r.status_code == 200, r.text
    else:
        body = assert_problem(r, 403, "forbidden")
        assert body["role"] == role
        assert body["allowed_roles"] == ["ingest", "operator"]


def test_ingest_key_cannot_read_the_ledger_nor_run_transfers(client, keys) -> None:
    assert_problem(client.get("/v1/ledger/verify", headers=keys("ingest")), 403, "forbidden")
    r = client.post(
        "/v1/transfers/run",
        json={"dataset": "x", "recipient": {"name": "A", "country": "DE"}, "purpose": "p"},
        headers=keys("operator"),
    )
    assert_problem(r, 403, "forbidden")


def test_ledger_names_the_key_as_actor(app, client, keys) -> None:
    client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys("ingest", **JSONL)
    )
    actors = {e.actor for _i, e in app.state.onshore.home.ledger.entries()}
    key_id = keys.by_role["ingest"].split("_")[1]
    assert f"api:test ingest (ingest, key {key_id})" in actors
