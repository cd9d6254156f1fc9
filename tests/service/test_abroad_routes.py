"""Clients abroad, over every route of the route table: no state change, no ungated personal read.

The routes come from :func:`onshore.service.app.endpoint_rules`, so a new route is covered the
day it is added: it must declare its rule for clients abroad, a state-changing route must refuse
them, a route that answers with personal data must pass the transfer gate, and an ``open`` route
must not carry a VIN or a subject's pseudonym.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from service_support import JSONL, assert_problem, jsonl, message, vin

from onshore.ledger import Activity
from onshore.service.app import endpoint_rules

RULES = endpoint_rules()
# The only routes that are not GET yet change nothing: they read (and the gate records the read).
READS_BY_POST = {("POST", "/v1/subjects/{vin}/export")}
# POSTs that only check a body against the ledger and the lake (aggregates, no state change):
# open to clients abroad, and the open-route test below checks they leave everything as it was.
CHECKS_BY_POST = {("POST", "/v1/reports/verify")}
PSEUDONYM = re.compile(r"[0-9a-f]{8}:[0-9A-Za-z_-]{16,}")


def _state(app: Any) -> tuple[int, list[str], dict[str, int]]:
    """What a refused request must leave as it was: the ledger, the lake's files, every table."""
    home = app.state.onshore.home
    files = sorted(str(p.relative_to(home.path)) for p in Path(home.path).rglob("*.parquet"))
    tables = [r[0] for r in home.meta.query("SELECT name FROM sqlite_master WHERE type='table'")]
    counts = {t: int(home.meta.query(f'SELECT COUNT(*) FROM "{t}"')[0][0]) for t in tables}
    return home.ledger.size(), files, counts


def _path(path: str, index: int) -> str:
    return (
        path.replace("{vin}", vin(1))
        .replace("{dataset}", "telemetry")
        .replace("{year}", "2026")
        .replace("{index}", str(index))
    )


QUERY = {
    "/v1/desensitize": {"profile": "export-default"},
    "/v1/ledger/proofs/consistency": {"old_size": 1},
    "/v1/console/areas/hits": {"dataset": "telemetry"},
    "/v1/console/transfers/assess/upload": {"recipient": "x", "country": "DE", "purpose": "p"},
    "/v1/console/transfers/run/upload": {"recipient": "x", "country": "DE", "purpose": "p"},
}


@pytest.fixture
def fleet(app, client, keys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Data of every kind a read could show: telemetry in an area, consents, a request."""
    inside = [message(1, 100 + s, lat=30.01, lon=100.05) for s in range(3)]
    body = jsonl([message(i, s) for i in range(3) for s in range(4)] + inside)
    r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    assert r.status_code == 200, r.text
    consent = {"vin": vin(1), "category": "location.trajectory", "purpose": "navigation"}
    r = client.post("/v1/consents", json={**consent, "days": 30}, headers=keys("compliance"))
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/subjects/{vin(2)}/export", headers=keys("compliance"))
    assert r.status_code == 200, r.text
    home = app.state.onshore.home
    index = next(i for i, e in home.ledger.entries() if e.subject)
    abroad = {
        role: app.state.onshore.keys.add(role, name=f"abroad {role}", country="DE").key
        for role in ("ingest", "operator", "compliance", "auditor")
    }
    subjects = {home.subject_ref(vin(i)) for i in range(3)}
    return {"index": index, "abroad": abroad, "subjects": subjects}


def test_every_route_declares_its_rule_for_clients_abroad() -> None:
    assert len(RULES) >= 25
    for (method, path), rule in RULES.items():
        if path == "/v1/health":
            assert rule.abroad is None
            continue
        assert rule.abroad in ("refuse", "gate", "open"), (method, path)
        if method != "GET" and (method, path) in CHECKS_BY_POST:
            assert rule.abroad == "open", (method, path)
        elif method != "GET" and (method, path) not in READS_BY_POST:
            assert rule.abroad == "refuse", f"{method} {path} changes state but lets abroad in"
    for method, path in READS_BY_POST:
        assert RULES[(method, path)].abroad == "gate"


def test_no_client_abroad_changes_state_on_any_route(app, client, keys, fleet) -> None:
    refused = [(m, p, r) for (m, p), r in RULES.items() if r.abroad == "refuse"]
    assert {"/v1/approvals", "/v1/consents", "/v1/subjects/{vin}", "/v1/transfers/run"} <= {
        p for _m, p, _r in refused
    }
    for method, path, rule in refused:
        for role in rule.roles:
            before = _state(app)
            headers = {"X-API-Key": fleet["abroad"][role], "Content-Type": "application/json"}
            r = client.request(
                method,
                _path(path, fleet["index"]),
                params=QUERY.get(path),
                headers=headers,
                content=b'{"id": "SELF-1", "kind": "standard_contract", "issued": "2026-01-05"}',
            )
            body = assert_problem(r, 403, "abroad-refused")
            assert body["country"] == "DE"
            assert _state(app) == before, f"{method} {path} as {role} abroad changed state"
            # A key at home that declares itself abroad is abroad too.
            at_home = keys(role, X_Onshore_Client_Country="US")
            r = client.request(
                method, _path(path, fleet["index"]), params=QUERY.get(path), headers=at_home
            )
            assert_problem(r, 403, "abroad-refused")
            assert _state(app) == before


def _data(app: Any) -> tuple[int, list[str], dict[str, int]]:
    """:func:`_state` less schema bookkeeping: a read may bring a table's schema up to date
    (a migration row, an empty table), never its data."""
    size, files, tables = _state(app)
    rows = {t: n for t, n in tables.items() if n and t != "onshore_migrations"}
    return size, files, rows


def _gate_decisions(app: Any) -> int:
    """Transfer-gate decisions on remote access so far (exports and refusals)."""
    return sum(
        1
        for _i, e in app.state.onshore.home.ledger.entries()
        if e.kind in (Activity.EXPORT, Activity.POLICY_REFUSAL)
        and e.dataset.startswith("remote access")
    )


def test_every_personal_read_from_abroad_passes_the_gate(app, client, fleet) -> None:
    """The gate decides each read (a refusal without an approval, or an export on the ledger
    where the 2024 exemptions allow it); nothing personal goes out without a decision."""
    gated = [(m, p, r) for (m, p), r in RULES.items() if r.abroad == "gate"]
    assert ("GET", "/v1/console/requests") in {(m, p) for m, p, _r in gated}
    for method, path, rule in gated:
        for role in rule.roles:
            headers = {"X-API-Key": fleet["abroad"][role]}
            before = _gate_decisions(app)
            r = client.request(
                method, _path(path, fleet["index"]), params=QUERY.get(path), headers=headers
            )
            assert _gate_decisions(app) == before + 1, f"{method} {path} skipped the gate"
            if r.status_code == 403:
                body = assert_problem(r, 403, "remote-access-refused")
                assert body["decision"]["access_mode"] == "remote_access"
                assert vin(0) not in r.text, r.text  # (the path names vin(1))
                assert not set(PSEUDONYM.findall(r.text)) & fleet["subjects"]
            else:
                assert r.status_code == 200, (method, path, r.text)


def test_open_routes_carry_nothing_personal_to_clients_abroad(app, client, fleet) -> None:
    opened = [(m, p, r) for (m, p), r in RULES.items() if r.abroad == "open"]
    assert len(opened) >= 8
    for method, path, rule in opened:
        for role in rule.roles:
            headers = {"X-API-Key": fleet["abroad"][role]}
            before = _data(app)
            r = client.request(
                method, _path(path, fleet["index"]), params=QUERY.get(path), headers=headers
            )
            assert r.status_code < 500, (method, path, r.text)
            assert _data(app) == before, f"{method} {path} (open) changed state"
            text = r.text
            assert not any(vin(i) in text for i in range(3)), f"{method} {path} shows a VIN"
            leaked = set(PSEUDONYM.findall(text)) & fleet["subjects"]
            assert not leaked, f"{method} {path} shows a subject's pseudonym to {role} abroad"


def test_the_self_approval_attack_fails(app, client, fleet) -> None:
    """Issue 15 item 2: refused a read, a compliance key abroad approved itself, then read."""
    key = {"X-API-Key": fleet["abroad"]["compliance"]}
    assert_problem(
        client.post(f"/v1/subjects/{vin(1)}/export", headers=key), 403, "remote-access-refused"
    )
    own = {"id": "SELF-1", "kind": "standard_contract", "recipient": "abroad compliance"}
    r = client.post("/v1/approvals", json={**own, "issued": "2026-01-05"}, headers=key)
    assert_problem(r, 403, "abroad-refused")
    assert_problem(
        client.post(f"/v1/subjects/{vin(1)}/export", headers=key), 403, "remote-access-refused"
    )
